// Sweep files: the grid's cartesian product, zip groups, explicit runs and seeds expand to the
// expected runs (count, order, names, configurations); every mistake is a UsageError naming the
// file and the key before anything runs; shards partition the runs.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "app/sweep/sweep_spec.h"
#include "engine/core/error.h"

using ojson = nlohmann::ordered_json;
using qt::Sweep;
using qt::UsageError;
namespace fs = std::filesystem;

namespace {

Sweep expand(const std::string& text) {
  return qt::expand_sweep(ojson::parse(text), "sweep file 't.json'");
}

std::vector<std::string> names(const Sweep& s) {
  std::vector<std::string> v;
  for (auto& r : s.runs) v.push_back(r.name);
  return v;
}

// The UsageError message of expanding `text` ("" when it expands).
std::string error_of(const std::string& text) {
  try {
    expand(text);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("grid lists expand as a cartesian product, first key slowest, seeds innermost") {
  Sweep s = expand(R"({"name": "g", "base": {"epochs": 3, "data": {"name": "synthetic"}},
                       "grid": {"model": ["mlp", "lenet5"], "lr": [0.01, 0.1]}, "seeds": [0, 7]})");
  CHECK(s.name == "g");
  CHECK(s.out == "runs/sweep-g");
  REQUIRE(s.runs.size() == 8);
  CHECK(names(s) ==
        std::vector<std::string>{"model=mlp,lr=0.01,seed=0", "model=mlp,lr=0.01,seed=7",
                                 "model=mlp,lr=0.1,seed=0", "model=mlp,lr=0.1,seed=7",
                                 "model=lenet5,lr=0.01,seed=0", "model=lenet5,lr=0.01,seed=7",
                                 "model=lenet5,lr=0.1,seed=0", "model=lenet5,lr=0.1,seed=7"});
  const auto& r = s.runs[5];
  CHECK(r.config["model"] == "lenet5");
  CHECK(r.config["lr"].get<double>() == doctest::Approx(0.01));
  CHECK(r.config["seed"] == 7);
  CHECK(r.config["epochs"] == 3);                  // from base
  CHECK(r.config["data"]["name"] == "synthetic");  // nested base
  CHECK(r.config["threads"] == 0);
  CHECK(r.point == "model=lenet5,lr=0.01");
  CHECK(r.params.dump() == R"({"model":"lenet5","lr":0.01,"seed":7})");
  std::set<std::string> points;
  for (auto& run : s.runs) points.insert(run.point);
  CHECK(points.size() == 4);
  CHECK(s.shape == "2 × 2 grid, × 2 seeds");
}

TEST_CASE("a zip group varies its keys together, as one more dimension of the product") {
  Sweep s = expand(R"({"base": {"data.name": "synthetic"}, "grid": {"lr": [0.01, 0.1]},
                       "zip": [{"algo.name": ["float", "ste", "ste"], "algo.bits": [0, 1, 2]}]})");
  REQUIRE(s.runs.size() == 6);
  for (auto& r : s.runs) {
    const std::string algo = r.config["algo"]["name"];
    const int bits = r.config["algo"]["bits"];
    CHECK(((algo == "float" && bits == 0) || (algo == "ste" && (bits == 1 || bits == 2))));
  }
  CHECK(s.runs[0].name == "lr=0.01,algo.name=float,algo.bits=0");
  CHECK(s.runs[2].name == "lr=0.01,algo.name=ste,algo.bits=2");
  CHECK(s.runs[3].name == "lr=0.1,algo.name=float,algo.bits=0");
  CHECK(s.runs[0].point == s.runs[0].name);  // no seeds: each run is its own point
}

TEST_CASE(
    "explicit runs add single points after the grid; nested keys flatten; seeds multiply them "
    "too") {
  Sweep s = expand(R"({"base": {"optimizer.momentum": 0.8}, "grid": {"lr": [0.01, 0.1]},
                       "runs": [{"optimizer": {"name": "adam"}, "lr": 0.001}, {"epochs": 2}], "seeds": [1, 2]})");
  REQUIRE(s.runs.size() == 8);
  CHECK(s.runs[4].name == "optimizer.name=adam,lr=0.001,seed=1");
  CHECK(s.runs[4].config["optimizer"]["name"] == "adam");
  CHECK(s.runs[4].config["optimizer"]["momentum"].get<double>() == doctest::Approx(0.8));
  CHECK(s.runs[6].name == "epochs=2,seed=1");
  CHECK(s.runs[6].config["lr"].get<double>() ==
        doctest::Approx(0.01));  // the default, not the grid's
  CHECK(s.shape == "2 values + 2 runs, × 2 seeds");
}

TEST_CASE("the base alone is one run; seeds alone name the runs by seed") {
  Sweep one = expand(R"({"base": {"epochs": 1}})");
  REQUIRE(one.runs.size() == 1);
  CHECK(one.runs[0].name == "base");
  Sweep seeds = expand(R"({"seeds": [3, 4, 5]})");
  CHECK(names(seeds) == std::vector<std::string>{"seed=3", "seed=4", "seed=5"});
  CHECK(seeds.runs[1].config["seed"] == 4);
  CHECK(seeds.runs[1].point == "base");
}

TEST_CASE("a point given twice runs once; names that collide after sanitising get a hash") {
  Sweep dup = expand(R"({"grid": {"lr": [0.1, 0.2]}, "runs": [{"lr": 0.1}]})");
  CHECK(names(dup) == std::vector<std::string>{"lr=0.1", "lr=0.2"});
  CHECK(dup.duplicates == 1);
  Sweep clash = expand(R"({"grid": {"data.dir": ["a/b", "a b", "../c"]}})");
  REQUIRE(clash.runs.size() == 3);
  CHECK(clash.runs[0].name == "data.dir=a_b");
  CHECK(clash.runs[1].name.rfind("data.dir=a_b-", 0) == 0);
  CHECK(clash.runs[1].name.size() == std::string("data.dir=a_b-").size() + 8);
  CHECK(clash.runs[2].name == "data.dir=.._c");
  for (auto& r : clash.runs) CHECK(r.name.find('/') == std::string::npos);
  CHECK(qt::value_text(ojson::parse(R"(["conv1", "fc2"])")) == "conv1+fc2");
  Sweep lists = expand(R"({"grid": {"schedule.milestones": [[1, 2], []]}, "base": {"epochs": 3}})");
  CHECK(names(lists) ==
        std::vector<std::string>{"schedule.milestones=1+2", "schedule.milestones=none"});
}

TEST_CASE("long names are cut and made unique with the configuration's hash") {
  std::string many = R"({"runs": [{"data.dir": ")" + std::string(300, 'x') + R"("}]})";
  Sweep s = expand(many);
  CHECK(s.runs[0].name.size() == 120);
}

TEST_CASE("every key is checked against the schema before anything runs, naming the file") {
  CHECK(error_of(R"({"grid": {"lrr": [0.1]}})")
            .find("sweep file 't.json': grid: unknown key 'lrr' (did you mean 'lr'?)") !=
        std::string::npos);
  CHECK(error_of(R"({"base": {"optimizer": {"momentun": 0.9}}})").find("'optimizer.momentum'") !=
        std::string::npos);
  CHECK(error_of(R"({"runs": [{"modle": "mlp"}]})")
            .find("runs[0]: unknown key 'modle' (did you mean 'model'?)") != std::string::npos);
  CHECK(error_of(R"({"seed": [1, 2]})")
            .find("unknown top-level key 'seed' (did you mean 'seeds'?)") != std::string::npos);
  CHECK(error_of(R"({"grid": {"lr": 0.1}})").find("'lr' must be a non-empty list") !=
        std::string::npos);
  CHECK(error_of(R"({"grid": {"lr": []}})").find("'lr' must be a non-empty list") !=
        std::string::npos);
  CHECK(error_of(R"({"grid": {"lr": ["fast"]}})").find("lr must be a number") != std::string::npos);
  CHECK(error_of(R"({"grid": {"lr": [0.1, -1]}})").find("run lr=-1: lr = -1 is out of range") !=
        std::string::npos);
  CHECK(error_of(R"({"grid": {"model": ["mlp", "lenet6"]}})").find("did you mean 'lenet5'") !=
        std::string::npos);
  CHECK(error_of(R"({"zip": [{"lr": [0.1, 0.2], "epochs": [1]}]})")
            .find("zip group 1: 'epochs' has 1 values, 'lr' has 2") != std::string::npos);
  CHECK(
      error_of(R"({"grid": {"lr": [0.1]}, "zip": [{"lr": [0.2]}]})").find("'lr' is varied twice") !=
      std::string::npos);
  CHECK(error_of(R"({"base": {"threads": 2}})").find("'threads' is chosen by qtrain sweep") !=
        std::string::npos);
  CHECK(error_of(R"({"grid": {"seed": [1, 2]}, "seeds": [0]})").find("'seed' is varied") !=
        std::string::npos);
  CHECK(error_of(R"({"seeds": [1, 1]})").find("listed twice") != std::string::npos);
  CHECK(error_of(R"({"seeds": [-1]})").find("not a non-negative integer") != std::string::npos);
  CHECK(error_of(R"({"grid": {"algo.bits": [2]}})")
            .find("run algo.bits=2: --algo float has its own weights") != std::string::npos);
  CHECK(error_of(R"({"runs": {"lr": 0.1}})").find("\"runs\" must be a list") != std::string::npos);
  CHECK(error_of(R"([1, 2])").find("expected a JSON object") != std::string::npos);
}

TEST_CASE("load_sweep names the file in its errors and takes the name from the file's stem") {
  const fs::path dir =
      fs::temp_directory_path() / ("qtrain-sweep-spec-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string good = (dir / "lrs.json").string(), bad = (dir / "bad.json").string();
  std::ofstream(good) << R"({"grid": {"lr": [0.1, 0.2]}})";
  std::ofstream(bad) << R"({"grid": {"lr": [0.1, 0.2]})";
  Sweep s = qt::load_sweep(good);
  CHECK(s.name == "lrs");
  CHECK(s.out == "runs/sweep-lrs");
  CHECK(s.file == good);
  try {
    qt::load_sweep(bad);
    FAIL("invalid JSON was accepted");
  } catch (const UsageError& e) {
    CHECK(std::string(e.what()).find("sweep file '" + bad + "' is not valid JSON") !=
          std::string::npos);
  }
  CHECK_THROWS_AS(qt::load_sweep((dir / "missing.json").string()), UsageError);
  fs::remove_all(dir);
}

TEST_CASE("shards are disjoint and cover the sweep: run k goes to shard k mod n") {
  for (int n : {1, 2, 3, 5, 8}) {
    std::vector<int> owner(17, -1);
    for (int i = 0; i < n; ++i) {
      const qt::Shard s = qt::parse_shard(std::to_string(i) + "/" + std::to_string(n));
      CHECK(s.index == i);
      CHECK(s.count == n);
      for (size_t k = 0; k < owner.size(); ++k)
        if (qt::in_shard(k, s)) {
          CHECK(owner[k] == -1);
          owner[k] = i;
        }
    }
    for (size_t k = 0; k < owner.size(); ++k) CHECK(owner[k] == static_cast<int>(k % n));
  }
  for (const char* bad : {"", "1", "2/2", "-1/2", "0/0", "a/2", "1/2x", "1 /2"})
    CHECK_THROWS_AS(qt::parse_shard(bad), UsageError);
}

TEST_CASE("each run's config has the numbers of the defaults that follow its length") {
  const Sweep s = expand(R"({"base": {"algo": {"name": "binaryrelax"}},
                             "grid": {"epochs": [4, 200]},
                             "runs": [{"epochs": 8, "algo.phase2_epoch": 2},
                                      {"epochs": 8, "algo.lambda_growth": null}]})");
  REQUIRE(s.runs.size() == 4);
  CHECK(s.runs[0].config["algo"]["phase2_epoch"] == 3);
  CHECK(s.runs[1].config["algo"]["phase2_epoch"] == 150);
  CHECK(s.runs[1].config["algo"]["lambda_growth"] == 1.04);
  CHECK(s.runs[2].config["algo"]["phase2_epoch"] == 2);  // explicit
  CHECK(s.runs[3].config["algo"]["phase2_epoch"] == 6);
  CHECK(s.runs[3].config["algo"]["lambda_growth"].is_number());
  CHECK(error_of(R"({"base": {"epochs": 4, "algo": {"name": "binaryrelax", "phase2_epoch": 4}}})")
            .find("--phase2-epoch 4 leaves no epoch of phase II") != std::string::npos);
}
