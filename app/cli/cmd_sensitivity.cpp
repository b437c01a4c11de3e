#include "app/cli/cmd_sensitivity.h"

#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "app/cli/config_flags.h"
#include "app/config/config.h"
#include "app/train/trainer.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/parallel.h"
#include "engine/quant/make_algorithm.h"

namespace qt {

using json = nlohmann::json;

namespace {

// The layers iterative quantizes under the configured layer options.
std::vector<std::string> candidate_layers(const TrainConfig& t) {
  AlgoOptions a = t.algo;
  a.name = "iterative";
  ModelOptions mo = natural_options(t.model);
  auto m = make_model(t.model, mo);
  std::vector<std::string> names;
  for (Param* p : select_layers(*m, a)) names.push_back(p->layer);
  return names;
}

LayerSensitivity run_layer(const TrainConfig& base, const DataSplits& data,
                           const std::string& layer) {
  TrainConfig t = base;
  t.algo.name = "iterative";
  t.algo.layers = {layer};
  t.algo.first_layer = t.algo.last_layer = LayerForce::Default;
  t.algo.order = "forward";
  t.algo.epochs_per_layer = 1;
  t.algo.reset_after_eval = false;
  Trainer trainer(t, data);
  json last;
  trainer.run([&](const json& r) { last = r; });
  return {layer, last.at("val_acc").get<double>(), last.at("val_loss").get<double>()};
}

}  // namespace

SensitivityReport run_sensitivity(const json& config, int jobs,
                                  const std::function<void(const LayerSensitivity&)>& on_layer) {
  const TrainConfig base = to_train_config(config);
  const std::vector<std::string> layers = candidate_layers(base);
  if (layers.empty())
    throw UsageError("sensitivity: no layer to binarize under these --layers options");
  set_threads(base.threads);
  const DataSplits data = load_splits(base.data);
  if (data.val.size() == 0)
    throw UsageError(
        "sensitivity ranks layers by validation accuracy: give a validation split (--val-size N)");

  SensitivityReport rep;
  rep.model = base.model;
  rep.epochs = base.epochs;
  rep.seed = base.seed;
  rep.layers.resize(layers.size());
  std::mutex mu;
  auto finish = [&](size_t i, LayerSensitivity s) {
    std::lock_guard<std::mutex> lock(mu);
    rep.layers[i] = s;
    if (on_layer) on_layer(s);
  };

  const int cores = threads();
  if (jobs <= 0) jobs = cores;
  jobs = std::min<int>(jobs, static_cast<int>(layers.size()));
  if (jobs <= 1) {
    for (size_t i = 0; i < layers.size(); ++i) finish(i, run_layer(base, data, layers[i]));
    return rep;
  }
  // `jobs` runs at once, each in an arena of its share of the threads: results are the same for
  // every thread count, so they do not depend on how the layers are spread.
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::vector<std::thread> workers;
  const int per_job = std::max(1, cores / jobs);
  for (int j = 0; j < jobs; ++j)
    workers.emplace_back([&] {
      tbb::task_arena arena(per_job);
      arena.execute([&] {
        for (size_t i; (i = next++) < layers.size();) {
          try {
            finish(i, run_layer(base, data, layers[i]));
          } catch (...) {
            std::lock_guard<std::mutex> lock(mu);
            if (!error) error = std::current_exception();
            next = layers.size();
          }
        }
      });
    });
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
  return rep;
}

namespace {

struct SensitivityArgs {
  ConfigFlags config;
  std::string out;
  int jobs = 0;
};

json resolve(const SensitivityArgs& a) {
  json cfg = resolve_config(a.config);
  // Each layer's run is iterative on one layer: the configured algorithm does not matter.
  cfg["algo"]["name"] = "float";
  validate_config(cfg);
  return cfg;
}

}  // namespace

void add_sensitivity_command(CLI::App& app) {
  auto args = std::make_shared<SensitivityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sensitivity",
      "Iterative Training's sensitivity pre-training: per layer, a short run with only that layer "
      "binary; "
      "writes a JSON file for `train --algo iterative --order sensitivity-ascending:FILE`.");
  cmd->add_option("--out", args->out, "output JSON file [default: sensitivity-<model>.json]");
  cmd->add_option("--jobs", args->jobs,
                  "runs at once, sharing --threads (0 = one per core) [default: 0]");
  add_config_flags(*cmd, args->config, {"algo.name"});
  cmd->callback([args]() {
    const json cfg = resolve(*args);
    const std::string out =
        args->out.empty() ? "sensitivity-" + cfg["model"].get<std::string>() + ".json" : args->out;
    // The folder first: a path that cannot be written fails now, not after the runs.
    const std::string folder = std::filesystem::path(out).parent_path().string();
    if (!folder.empty()) make_dirs(folder);
    std::printf("sensitivity of %s on %s: %d epochs per layer\n",
                cfg["model"].get<std::string>().c_str(),
                cfg["data"]["name"].get<std::string>().c_str(), cfg["epochs"].get<int>());
    const SensitivityReport rep = run_sensitivity(cfg, args->jobs, [](const LayerSensitivity& s) {
      std::printf("  %-24s val %.4f %6.2f%%\n", s.layer.c_str(), s.val_loss, 100 * s.val_acc);
      std::fflush(stdout);
    });
    write_sensitivity(out, rep);
    std::printf("ascending order: ");
    for (auto& n : sensitivity_order(rep, true)) std::printf("%s ", n.c_str());
    std::printf("\nwritten to %s\n", out.c_str());
  });
}

}  // namespace qt
