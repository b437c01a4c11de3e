// A newcomer's first runs: `qtrain train --algo X --epochs 1` works for every algorithm, with the
// schedules that follow the run's length recorded in config.json and printed by --dry-run.
#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

std::vector<std::string> short_run(const std::string& algo, const fs::path& out) {
  return {qtrain_bin(), "train",     "--model",          algo == "binaryconnect" ? "mlp-bn" : "mlp",
          "--algo",     algo,        "--epochs",         "1",
          "--dataset",  "synthetic", "--synthetic-size", "200,50",
          "--val-size", "50",        "--threads",        "1",
          "-q",         "--out",     out.string()};
}

}  // namespace

TEST_CASE("qtrain train --algo X --epochs 1 works for every algorithm") {
  const fs::path dir = scratch("short-runs");
  Cleanup cleanup{dir};
  for (const std::string algo :
       {"float", "binaryconnect", "bwn", "ste", "binaryrelax", "bcgd", "iterative", "proxybnn"}) {
    CAPTURE(algo);
    const fs::path out = dir / algo;
    const Result r = run(short_run(algo, out));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const json cfg = read_json(out / "config.json");
    CHECK(cfg["algo"]["phase2_epoch"] == 0);  // 3/4 of one epoch: phase II throughout
    CHECK(cfg["algo"]["relax_until"] == 0);
    CHECK(cfg["algo"]["lambda_growth"].is_number());
    const std::vector<json> recs = metrics(out);
    REQUIRE(recs.size() == 1);
    // the one epoch is at the quantized set: BinaryRelax in phase II, every layer of Iterative
    // Training's MLP binary
    if (algo != "float") CHECK(recs[0]["algorithm"]["fully_quantized"] == true);
    if (algo == "iterative") CHECK(recs[0]["algorithm"]["binary_layers"].size() == 3);
  }
}

TEST_CASE("--dry-run prints the resolved schedule; --relax-until equal to --epochs is refused") {
  Result r = run({qtrain_bin(), "train", "--algo", "binaryrelax", "--epochs", "10", "--dry-run"});
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(r.output.find("\"phase2_epoch\": 7") != std::string::npos);
  CHECK(r.output.find("\"lambda_growth\": 2.317395") != std::string::npos);
  r = run({qtrain_bin(), "train", "--model", "lenet5", "--algo", "iterative", "--epochs", "3",
           "--dry-run"});
  CHECK(r.code == 0);
  CHECK(r.output.find("binary from epoch 3 (order position 5)") != std::string::npos);
  r = run({qtrain_bin(), "train", "--algo", "bcgd", "--relax", "--epochs", "5", "--relax-until",
           "5", "--dry-run"});
  CHECK(r.code == 2);
  CHECK(r.output.find("--relax-until 5 leaves no epoch at exact Q(w)") != std::string::npos);
}
