// Every experiment config in experiments/ is one `qtrain train --config F` accepts (checked with
// --dry-run: the resolved configuration, the model and its quantized layers), every sweep file
// (a JSON file with a sweep's keys: base, grid, zip, runs, seeds) is one `qtrain sweep` accepts,
// and experiments/README.md lists each file.
#include <algorithm>

#include "app/sweep/sweep_spec.h"
#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

struct Files {
  std::vector<fs::path> configs, sweeps;
};

// A sweep file has the sweep's top-level keys (docs/sweeps.md), which no run configuration has.
bool is_sweep_file(const fs::path& path) {
  const json j = json::parse(slurp(path));
  for (const char* k : {"base", "grid", "zip", "runs", "seeds"})
    if (j.contains(k)) return true;
  return false;
}

Files experiment_files(const fs::path& dir) {
  Files f;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".json") continue;
    (is_sweep_file(e.path()) ? f.sweeps : f.configs).push_back(e.path());
  }
  std::sort(f.configs.begin(), f.configs.end());
  std::sort(f.sweeps.begin(), f.sweeps.end());
  return f;
}

// An order from `qtrain sensitivity` names a file the sensitivity step writes: write a stand-in
// with the model's layers (as --list-layers shows them) where the config expects it.
void provide_sensitivity_file(const fs::path& config, const fs::path& cwd) {
  const json c = json::parse(slurp(config));
  const std::string order =
      c.contains("algo") ? c["algo"].value("order", std::string()) : std::string();
  const auto colon = order.find(':');
  if (!order.starts_with("sensitivity-") || colon == std::string::npos) return;
  const fs::path file = cwd / order.substr(colon + 1);
  const fs::path log = cwd / "layers.log";
  REQUIRE(wait_exit(spawn({qtrain_bin(), "train", "--config", config.string(), "--set",
                           "algo.order=forward", "--list-layers"},
                          log, cwd)) == 0);
  json layers = json::array();
  std::istringstream lines(slurp(log));
  for (std::string line; std::getline(lines, line);)
    if (line.find("quantized:") != std::string::npos) {
      std::istringstream words(line);
      std::string name;
      words >> name;
      layers.push_back(
          {{"layer", name}, {"val_acc", 0.5 + 0.01 * double(layers.size())}, {"val_loss", 1.0}});
    }
  REQUIRE_MESSAGE(!layers.empty(), "no quantized layer listed for " << config);
  fs::create_directories(file.parent_path());
  std::ofstream(file) << json{
      {"kind", "qtrain-sensitivity"},
      {"model", c["model"]},
      {"epochs", 1},
      {"seed", 0},
      {"layers", layers}}.dump(2);
}

}  // namespace

TEST_CASE("every experiment config passes qtrain train --dry-run") {
  const fs::path source = env("QTRAIN_SOURCE_DIR");
  const Files files = experiment_files(source / "experiments");
  REQUIRE(files.configs.size() >= 40);
  const fs::path cwd = scratch("experiments");
  const Cleanup cleanup{cwd};
  for (const fs::path& f : files.configs) {
    INFO(f.string());
    provide_sensitivity_file(f, cwd);
    const fs::path log = cwd / "dry-run.log";
    const int code =
        wait_exit(spawn({qtrain_bin(), "train", "--config", f.string(), "--dry-run"}, log, cwd));
    CHECK_MESSAGE(code == 0, "qtrain train --config " << f.string() << " --dry-run: exit " << code
                                                      << ": " << slurp(log));
  }
}

TEST_CASE("every experiment sweep is a valid sweep file, and qtrain sweep --dry-run lists it") {
  const fs::path source = env("QTRAIN_SOURCE_DIR");
  const Files files = experiment_files(source / "experiments");
  REQUIRE_FALSE(files.sweeps.empty());
  const fs::path cwd = scratch("experiment-sweeps");
  const Cleanup cleanup{cwd};
  const bool has_sweep =
      wait_exit(spawn({qtrain_bin(), "sweep", "--help"}, cwd / "help.log", cwd)) == 0;
  for (const fs::path& f : files.sweeps) {
    INFO(f.string());
    const qt::Sweep s = qt::load_sweep(f.string());  // throws UsageError naming the problem
    CHECK(s.runs.size() >= 2);
    if (has_sweep) {
      const fs::path log = cwd / "sweep.log";
      const int code = wait_exit(spawn({qtrain_bin(), "sweep", f.string(), "--dry-run"}, log, cwd));
      CHECK_MESSAGE(code == 0, "qtrain sweep " << f.string() << " --dry-run: exit " << code << ": "
                                               << slurp(log));
      CHECK(slurp(log).find(std::to_string(s.runs.size()) + " runs") != std::string::npos);
    }
  }
}

TEST_CASE("the Fashion-MNIST comparison covers every algorithm, both models and 3 seeds") {
  const fs::path source = env("QTRAIN_SOURCE_DIR");
  const qt::Sweep s =
      qt::load_sweep((source / "experiments/fashion-mnist/comparison.sweep.json").string());
  std::vector<std::string> algos, models;
  std::vector<long long> seeds;
  for (const qt::SweepRun& r : s.runs) {
    const std::string a = r.config["algo"]["name"], m = r.config["model"];
    if (std::find(algos.begin(), algos.end(), a) == algos.end()) algos.push_back(a);
    if (std::find(models.begin(), models.end(), m) == models.end()) models.push_back(m);
    const long long seed = r.config["seed"];
    if (std::find(seeds.begin(), seeds.end(), seed) == seeds.end()) seeds.push_back(seed);
    CHECK(r.config["data"]["name"] == "fashion-mnist");
  }
  std::sort(algos.begin(), algos.end());
  CHECK(algos == std::vector<std::string>{"bcgd", "binaryconnect", "binaryrelax", "bwn", "float",
                                          "iterative", "proxybnn", "ste"});
  CHECK(models == std::vector<std::string>{"lenet5-bn", "mlp-bn"});
  CHECK(seeds.size() == 3);
}

TEST_CASE("experiments/README.md lists every experiment file") {
  const fs::path source = env("QTRAIN_SOURCE_DIR");
  const std::string readme = slurp(source / "experiments/README.md");
  const Files files = experiment_files(source / "experiments");
  for (const auto* list : {&files.configs, &files.sweeps})
    for (const fs::path& f : *list) {
      const std::string rel = fs::relative(f, source / "experiments").string();
      CHECK_MESSAGE(readme.find(rel) != std::string::npos,
                    "experiments/README.md does not mention " << rel);
    }
}
