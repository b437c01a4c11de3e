// `qtrain sweep` end to end on tiny synthetic runs: --dry-run lists the runs, mistakes exit 2,
// --jobs 2 runs them two at once and writes sweep.csv / sweep.json with mean ± std over seeds,
// a re-run touches nothing finished, a failing run is reported with its error line.
#include <cmath>

#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

const char* kTinySweep = R"({
  "name": "tiny",
  "base": {"model": "mlp", "epochs": 2, "batch_size": 32,
           "data": {"name": "synthetic", "limit_train": 256, "limit_test": 100}},
  "grid": {"lr": [0.02, 0.05]},
  "seeds": [0, 1],
  "out": "out/tiny"
})";

}  // namespace

TEST_CASE("--dry-run lists the runs and starts nothing; mistakes exit 2 with a message") {
  const fs::path dir = scratch("sweep-cli-dry");
  const Cleanup cleanup{dir};
  write(dir / "tiny.json", kTinySweep);
  Result r =
      run({qtrain_bin(), "sweep", "tiny.json", "--dry-run", "--jobs", "1", "--threads", "1"}, dir);
  CHECK(r.code == 0);
  CHECK(r.output.find("sweep tiny: 4 runs (2 values, × 2 seeds); 1 at once × 1 thread") !=
        std::string::npos);
  for (const char* name : {"lr=0.02,seed=0", "lr=0.02,seed=1", "lr=0.05,seed=0", "lr=0.05,seed=1"})
    CHECK(r.output.find(std::string("new                  ") + name) != std::string::npos);
  CHECK(!fs::exists(dir / "out"));

  Result shard = run(
      {qtrain_bin(), "sweep", "tiny.json", "--dry-run", "--shard", "1/3", "--threads", "1"}, dir);
  CHECK(shard.code == 0);
  CHECK(shard.output.find("shard 1/3: 1 of them") != std::string::npos);
  CHECK(shard.output.find("1  new                  lr=0.02,seed=1") != std::string::npos);
  CHECK(count(shard.output, "new ") == 1);

  write(dir / "typo.json", R"({"grid": {"lrr": [0.1]}})");
  Result typo = run({qtrain_bin(), "sweep", "typo.json", "--dry-run"}, dir);
  CHECK(typo.code == 2);
  CHECK(typo.output.find("sweep file 'typo.json': grid: unknown key 'lrr' (did you mean 'lr'?)") !=
        std::string::npos);

  Result flag = run({qtrain_bin(), "sweep", "tiny.json", "--job", "2"}, dir);
  CHECK(flag.code == 2);
  CHECK(flag.output.find("--job (did you mean --jobs?)") != std::string::npos);
  CHECK(!fs::exists(dir / "out"));

  Result cores = run({qtrain_bin(), "sweep", "tiny.json", "--jobs", "2", "--threads", "1024"}, dir);
  CHECK(cores.code == 2);
  CHECK(cores.output.find("--jobs 2 × 1024 threads = 2048 >") != std::string::npos);
  CHECK(!fs::exists(dir / "out"));

  CHECK(run({qtrain_bin(), "sweep", "tiny.json", "--shard", "3/3", "--dry-run"}, dir).code == 2);
  CHECK(run({qtrain_bin(), "sweep", "tiny.json", "--partition", "debug"}, dir).code == 2);
  CHECK(run({qtrain_bin(), "sweep", "--dry-run"}, dir).code == 2);
  Result nodir = run({qtrain_bin(), "sweep", "--summary", "nowhere"}, dir);
  CHECK(nodir.code == 2);
  CHECK(nodir.output.find("no plan.json") != std::string::npos);
}

TEST_CASE(
    "a tiny sweep with --jobs 2: every run finished, summary per run and per grid point, re-run "
    "does nothing") {
  const fs::path dir = scratch("sweep-cli-run");
  const Cleanup cleanup{dir};
  write(dir / "tiny.json", kTinySweep);
  Result r = run({qtrain_bin(), "sweep", "tiny.json", "--jobs", "2", "--threads", "1"}, dir);
  INFO(r.output);
  REQUIRE(r.code == 0);
  const fs::path out = dir / "out/tiny";
  CHECK(count(r.output, "] finished lr=") == 4);
  for (const char* name :
       {"lr=0.02,seed=0", "lr=0.02,seed=1", "lr=0.05,seed=0", "lr=0.05,seed=1"}) {
    json s = read_json(out / name / "summary.json");
    CHECK(s["finished"] == true);
    CHECK(read_json(out / name / "config.json")["threads"] == 1);
    CHECK(metrics(out / name).size() == 2);
  }
  CHECK(read_json(out / "lr=0.05,seed=1/config.json")["seed"] == 1);
  CHECK(read_json(out / "lr=0.05,seed=1/config.json")["lr"].get<double>() == doctest::Approx(0.05));

  json sj = read_json(out / "sweep.json");
  CHECK(sj["counts"]["finished"] == 4);
  CHECK(sj["counts"]["failed"] == 0);
  REQUIRE(sj["runs"].size() == 4);
  REQUIRE(sj["points"].size() == 2);
  for (auto& p : sj["points"]) {
    CHECK(p["runs"] == 2);
    CHECK(p["finished"] == 2);
    std::vector<double> fin;
    for (auto& run : sj["runs"])
      if (run["point"] == p["point"]) {
        CHECK(run["status"] == "finished");
        CHECK(run["epochs_done"] == 2);
        CHECK(run["seconds"].get<double>() > 0);
        fin.push_back(run["final_test_acc"]);
      }
    REQUIRE(fin.size() == 2);
    const double mean = (fin[0] + fin[1]) / 2, sd = std::fabs(fin[0] - fin[1]) / std::sqrt(2.0);
    CHECK(p["final_test_acc"]["mean"].get<double>() == doctest::Approx(mean));
    CHECK(p["final_test_acc"]["std"].get<double>() == doctest::Approx(sd));
  }
  const std::string csv = slurp(out / "sweep.csv");
  CHECK(csv.rfind("run,lr,seed,status,epochs_done,epochs,final_test_acc,best_test_acc,", 0) == 0);
  CHECK(count(csv, "\n") == 5);
  CHECK(count(csv, ",finished,2,2,") == 4);
  CHECK(count(slurp(out / "sweep_points.csv"), "\n") == 3);
  CHECK(r.output.find("grid point") != std::string::npos);
  CHECK(r.output.find("2/2") != std::string::npos);

  // A re-run: nothing to do, no file of a finished run rewritten.
  const auto before = snapshot(out / "lr=0.02,seed=0");
  Result again = run({qtrain_bin(), "sweep", "tiny.json", "--jobs", "2", "--threads", "1"}, dir);
  CHECK(again.code == 0);
  CHECK(again.output.find("4 finished before, 0 to run") != std::string::npos);
  CHECK(snapshot(out / "lr=0.02,seed=0") == before);

  // --summary DIR gives the same table from the folder alone.
  const std::string written = slurp(out / "sweep.json");
  fs::remove(out / "sweep.json");
  Result sum = run({qtrain_bin(), "sweep", "--summary", out.string()});
  CHECK(sum.code == 0);
  CHECK(slurp(out / "sweep.json") == written);
  CHECK(sum.output.find("4 finished, 0 unfinished, 0 failed") != std::string::npos);

  // Changing the base under an existing folder is refused instead of mixing configurations.
  std::string changed = kTinySweep;
  changed.replace(changed.find("\"epochs\": 2"), 11, "\"epochs\": 3");
  write(dir / "tiny.json", changed);
  Result clash = run({qtrain_bin(), "sweep", "tiny.json", "--dry-run"}, dir);
  CHECK(clash.code == 2);
  CHECK(clash.output.find("holds a run with another configuration (epochs: 2 → 3)") !=
        std::string::npos);
}

TEST_CASE("a run that fails is reported with its error line; the others finish; exit 1") {
  const fs::path dir = scratch("sweep-cli-fail");
  const Cleanup cleanup{dir};
  write(dir / "fail.json", R"({
    "base": {"model": "mlp", "epochs": 1, "data": {"name": "synthetic", "limit_train": 128, "limit_test": 50}},
    "runs": [{"lr": 0.05}, {"data": {"name": "fashion-mnist", "dir": "/nonexistent/qtrain"}}],
    "out": "out"
  })");
  Result r = run({qtrain_bin(), "sweep", "fail.json", "--threads", "1"}, dir);
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK(r.output.find("1 run failed") != std::string::npos);
  json sj = read_json(dir / "out/sweep.json");
  CHECK(sj["counts"]["finished"] == 1);
  CHECK(sj["counts"]["failed"] == 1);
  const json& bad = sj["runs"][1];
  CHECK(bad["status"] == "failed");
  CHECK(bad["error"].get<std::string>().rfind("qtrain: error: ", 0) == 0);
  CHECK(bad["error"].get<std::string>().find("/nonexistent/qtrain") != std::string::npos);
  CHECK(slurp(dir / "out/sweep.csv").find(",failed,") != std::string::npos);
}
