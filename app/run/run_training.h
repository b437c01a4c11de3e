#pragma once
// One training run from a resolved configuration, in its own directory:
//   config.json    the resolved configuration
//   metrics.jsonl  one JSON object per epoch
//   summary.json   best and final results, time, versions
//   log.txt        the lines printed
//   checkpoints/last.ckpt  everything needed to continue exactly (written at every epoch end,
//                  every --checkpoint-every seconds, and on Ctrl-C)
// The `train` command, `sweep` and the tests call this.
#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/train/communicator.h"

namespace qt {

struct RunOptions {
  std::string out;                // run directory ("" = runs/<model>-<dataset>-<algo>-<hash>)
  bool resume = false;            // continue the run in `out` from its last checkpoint
  bool quiet = false;             // no per-epoch lines on stdout
  bool progress = false;          // a live progress line (on a terminal)
  double checkpoint_every = 300;  // seconds between mid-epoch checkpoints (0 = only at epoch ends)
  std::string init_from;          // a checkpoint whose weights start the run
  int threads = -1;  // with resume: worker threads instead of the run's own (-1 = keep)
  const std::atomic<bool>* stop = nullptr;  // raised by Ctrl-C: checkpoint and return
  // The processes sharing this training (mpirun): all train, only rank 0 writes the run
  // directory. Null: this process alone.
  Communicator* comm = nullptr;
};

struct RunResult {
  std::string dir;
  bool finished = false;  // false: stopped, resumable
  nlohmann::json summary;
};

RunResult run_training(const nlohmann::json& config, const RunOptions& opt);
// Reads RUN_DIR/config.json and continues that run.
RunResult resume_training(const std::string& run_dir, RunOptions opt);

// summary.json from the epoch records: final and best epochs (app/run/best_epoch.h), max_test_acc,
// time, versions.
nlohmann::json run_summary(const std::vector<nlohmann::json>& records, double seconds,
                           bool finished);

// A short stable hash of the deterministic part of a config, for run directory names.
std::string config_hash(const nlohmann::json& config);

}  // namespace qt
