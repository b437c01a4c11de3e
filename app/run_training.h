#pragma once
// One training run from a resolved configuration: its run directory, its metrics, its log.
// The `train` command and the tests call this; `sweep` will too.
#include <string>

#include <nlohmann/json.hpp>

namespace qt {

struct RunOptions {
  std::string out;      // run directory ("" = runs/<model>-<dataset>-<algo>-<hash>)
  bool quiet = false;   // no per-epoch lines
  bool progress = false;  // a live progress line (on a terminal)
};

struct RunResult {
  std::string dir;
  nlohmann::json summary;
};

RunResult run_training(const nlohmann::json& config, const RunOptions& opt);

// A short stable hash of the deterministic part of a config, for run directory names.
std::string config_hash(const nlohmann::json& config);

}  // namespace qt
