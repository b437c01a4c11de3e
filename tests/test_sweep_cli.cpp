// `qtrain sweep` end to end on tiny synthetic runs: --dry-run lists the runs, mistakes exit 2,
// --jobs 2 runs them two at once and writes sweep.csv / sweep.json with mean ± std over seeds,
// a re-run touches nothing finished, a failing run is reported with its error line.
#include <cmath>

#include "app/sweep/sweep_spec.h"
#include "app/sweep/sweep_summary.h"
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
  CHECK(csv.rfind("run,lr,seed,status,epochs_done,epochs,final_test_acc,test_at_best_val_acc,"
                  "max_test_acc,best_epoch,best_selected_by,",
                  0) == 0);
  for (auto& run : sj["runs"]) {
    const json s = read_json(out / run["name"].get<std::string>() / "summary.json");
    CHECK(s["best"]["selected_by"] == "val_acc");
    CHECK(run["test_at_best_val_acc"] == s["best"]["test_acc"]);
    CHECK(run["max_test_acc"] == s["max_test_acc"]);
  }
  CHECK(r.output.find("test @ best val") != std::string::npos);
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

TEST_CASE("the summary: test accuracy at the best validation epoch, and the maximum apart") {
  // Three points, summaries written by hand: with a validation split (two seeds), without one,
  // and a run with no fully quantized epoch (no maximum).
  const fs::path dir = scratch("sweep-summary-names");
  const Cleanup cleanup{dir};
  const qt::Sweep sweep = qt::expand_sweep(nlohmann::ordered_json::parse(R"({"name": "names",
      "base": {"model": "mlp", "data": {"name": "synthetic"}, "epochs": 3},
      "runs": [{"data.val_size": -1}, {"data.val_size": 0}, {"lr": 0.5}], "seeds": [0, 1],
      "out": ")" + (dir / "out").string() + R"("})"),
                                           "names.json");
  REQUIRE(sweep.runs.size() == 6);
  auto summary = [](double final_test, std::string by, double best_test, json max) {
    json best = {{"epoch", 2}, {"selected_by", by}, {"test_acc", best_test}};
    if (by == "val_acc") best["val_acc"] = 0.5;
    return json{{"finished", true},
                {"epochs_done", 3},
                {"final", {{"epoch", 3}, {"test_acc", final_test}}},
                {"best", best},
                {"max_test_acc", max},
                {"timing", {{"seconds", 1.0}}}};
  };
  const json written[6] = {
      summary(0.70, "val_acc", 0.80, 0.90),    summary(0.60, "val_acc", 0.70, 0.85),
      summary(0.50, "test_acc", 0.66, 0.66),   summary(0.40, "test_acc", 0.64, 0.64),
      summary(0.30, "val_acc", 0.20, nullptr), summary(0.30, "val_acc", 0.25, nullptr)};
  for (size_t i = 0; i < 6; ++i) {
    fs::create_directories(dir / "out" / sweep.runs[i].name);
    write(dir / "out" / sweep.runs[i].name / "summary.json", written[i].dump());
  }
  const qt::SweepSummary s = qt::collect_summary(sweep);
  REQUIRE(s.rows.size() == 6);
  CHECK(*s.rows[0].test_at_best_val == 0.80);
  CHECK(*s.rows[0].max_test == 0.90);
  CHECK_FALSE(s.rows[2].test_at_best_val);  // chosen by test accuracy: that is the maximum
  CHECK(*s.rows[2].max_test == 0.66);
  CHECK(*s.rows[4].test_at_best_val == 0.20);
  CHECK_FALSE(s.rows[4].max_test);
  REQUIRE(s.points.size() == 3);
  CHECK(s.points[0].finished == 2);
  CHECK(s.points[0].test_at_best_val->mean == doctest::Approx(0.75));
  CHECK(s.points[0].test_at_best_val->std == doctest::Approx(0.1 / std::sqrt(2.0)));
  CHECK(s.points[0].max_test->mean == doctest::Approx(0.875));
  CHECK(s.points[1].finished == 2);
  CHECK_FALSE(s.points[1].test_at_best_val);
  CHECK(s.points[1].max_test->mean == doctest::Approx(0.65));
  CHECK(s.points[2].finished == 2);
  CHECK(s.points[2].test_at_best_val->mean == doctest::Approx(0.225));
  CHECK_FALSE(s.points[2].max_test);

  qt::write_summary(s);
  const json sj = read_json(dir / "out/sweep.json");
  CHECK(sj["runs"][0]["test_at_best_val_acc"] == 0.80);
  CHECK(sj["runs"][0]["max_test_acc"] == 0.90);
  CHECK(sj["runs"][2]["test_at_best_val_acc"].is_null());
  CHECK(sj["runs"][4]["max_test_acc"].is_null());
  CHECK(sj["points"][1]["test_at_best_val_acc"].is_null());
  CHECK(sj["points"][1]["max_test_acc"]["mean"].get<double>() == doctest::Approx(0.65));
  CHECK_FALSE(sj["runs"][0].contains("best_test_acc"));
  const std::string csv = slurp(dir / "out/sweep.csv");
  CHECK(csv.find(",final_test_acc,test_at_best_val_acc,max_test_acc,best_epoch,") !=
        std::string::npos);
  CHECK(csv.find(",finished,3,3,0.5,,0.66,2,test_acc,") != std::string::npos);
  const std::string points = slurp(dir / "out/sweep_points.csv");
  CHECK(points.find(",final_test_mean,final_test_std,test_at_best_val_mean,test_at_best_val_std,"
                    "max_test_mean,max_test_std\n") != std::string::npos);
  const std::string table = qt::summary_table(s);
  CHECK(table.find("test @ best val") != std::string::npos);
  CHECK(table.find("max test") != std::string::npos);
  CHECK(table.find("best test") == std::string::npos);
}
