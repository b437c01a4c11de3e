// `qtrain report` as a user runs it: on a real sweep folder written by `qtrain sweep` (with a
// run still to come), on a run directory, and on damaged or missing directories, where it must
// exit with a one-line message and write no page.
#include "test_sweep_util.h"

using namespace sweep_test;

TEST_CASE("qtrain report on a folder written by qtrain sweep, one run not started yet") {
  const fs::path root = scratch("report-cli-sweep");
  const Cleanup cleanup{root};
  std::ofstream(root / "tiny.json") << R"({
    "name": "tiny",
    "base": {"model": "mlp", "data": {"limit_train": 600, "limit_test": 200}, "epochs": 2, "batch_size": 64, "lr": 0.05},
    "zip": [{"algo.name": ["float", "ste"], "algo.bits": [0, 2]}],
    "seeds": [0, 1],
    "out": "sweep"
  })";
  // Three of the four runs (shards 0–2 of 4), so that one is still "not started".
  for (int shard = 0; shard < 3; ++shard) {
    const Streams s = run_streams({qtrain_bin(), "sweep", "tiny.json", "--shard",
                                   std::to_string(shard) + "/4", "--threads", "2"},
                                  root);
    REQUIRE_MESSAGE(s.code == 0, s.out << s.err);
  }
  const Streams r = run_streams({qtrain_bin(), "report", "sweep"}, root);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out == "wrote sweep/report.html and sweep/report.md (sweep, 4 runs in 2 points)\n");
  const std::string html = slurp(root / "sweep/report.html"), md = slurp(root / "sweep/report.md");
  CHECK(md.find("# qtrain report: sweep tiny") != std::string::npos);
  CHECK(md.find("3 finished, 0 in progress or stopped, 0 failed, 1 not started.") !=
        std::string::npos);
  CHECK(md.find("| algo | bits | runs finished |") != std::string::npos);
  CHECK(md.find("| ste | 2 | 1 of 2 | 2 / 2 |") != std::string::npos);
  CHECK(md.find("| algo.name=ste,algo.bits=2,seed=1 | not started |") != std::string::npos);
  CHECK(count(html, "<svg") >= 10);
  CHECK(html.find("Projection error") != std::string::npos);  // in the ste point's section
  CHECK(html.find("Final test accuracy per point") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);

  // A run directory of the sweep, written elsewhere with --out.
  const Streams one = run_streams(
      {qtrain_bin(), "report", "sweep/algo.name=float,algo.bits=0,seed=0", "--out", "single"},
      root);
  REQUIRE_MESSAGE(one.code == 0, one.err);
  CHECK(one.out.find("(run, 1 run in 1 point)") != std::string::npos);
  CHECK(fs::exists(root / "single/report.html"));
  CHECK(slurp(root / "single/report.md").find("| finished | 2 / 2 |") != std::string::npos);
}

TEST_CASE(
    "qtrain report refuses damaged or missing directories with one line, and writes no page") {
  const fs::path root = scratch("report-cli-errors");
  const Cleanup cleanup{root};
  const fs::path run = root / "run";
  fs::create_directories(run);
  std::ofstream(run / "config.json") << R"({"model": "mlp", "epochs": 3})";
  std::ofstream(run / "metrics.jsonl") << R"({"epoch": 1, "test_acc": 0.5})"
                                       << "\n"
                                       << R"({"epoch": 2, "test_)"
                                       << "\n";
  Streams r = run_streams({qtrain_bin(), "report", "run"}, root);
  CHECK(r.code == 3);
  CHECK(r.err.rfind("qtrain: error: run/metrics.jsonl: line 2 is not valid JSON", 0) == 0);
  CHECK(count(r.err, "\n") == 1);
  CHECK_FALSE(fs::exists(run / "report.html"));

  fs::remove(run / "config.json");
  std::ofstream(run / "metrics.jsonl") << R"({"epoch": 1, "test_acc": 0.5})"
                                       << "\n";
  r = run_streams({qtrain_bin(), "report", "run"}, root);
  CHECK(r.code == 3);
  CHECK(r.err.find("run/config.json: missing") != std::string::npos);
  CHECK_FALSE(fs::exists(run / "report.html"));

  r = run_streams({qtrain_bin(), "report", "nowhere"}, root);
  CHECK(r.code == 2);
  CHECK(r.err.find("nowhere: no such directory") != std::string::npos);

  fs::create_directories(root / "empty");
  r = run_streams({qtrain_bin(), "report", "empty"}, root);
  CHECK(r.code == 2);
  CHECK(r.err.find("neither a run directory") != std::string::npos);

  r = run_streams({qtrain_bin(), "report", "empty", "--band", "wide"}, root);
  CHECK(r.code == 2);
  CHECK(r.err.find("--band 'wide'") != std::string::npos);
}
