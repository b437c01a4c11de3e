#pragma once
// Runs a sweep's runs (or one shard of them), at most --jobs at once, each as a child process
// `qtrain train` in SWEEP_DIR/<run name>/: started fresh when new, `--resume`d when it has
// been started before, skipped when finished. Ctrl-C (or SIGTERM) is forwarded once to every
// running child, which saves its checkpoint; the sweep then returns `interrupted`.
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "app/sweep/sweep_spec.h"

namespace qt {

struct SweepOptions {
  int jobs = 1;
  int threads = 0;             // per run; 0 = max(1, cores / jobs)
  bool oversubscribe = false;  // allow jobs × threads > cores
  Shard shard;
  double checkpoint_every = 300;  // forwarded to every run (seconds between mid-epoch checkpoints)
  std::string qtrain;             // the binary the runs use ("" = this one)
  // Words before each run's `qtrain train`: a launcher such as `srun --mpi=pmix …` whose
  // processes train the run together over MPI (empty = the run is one process).
  std::vector<std::string> launcher;
  const std::atomic<bool>* stop = nullptr;
  std::FILE* log = stdout;  // one line per run started and ended (nullptr = silent)
};

struct SweepOutcome {
  int finished = 0;  // runs that finished now
  int already = 0;   // runs of the shard already finished before (not touched)
  int failed = 0;    // runs whose process ended with an error
  int busy = 0;      // runs locked by another sweep process (skipped)
  bool interrupted = false;
};

// Threads per run for these options on `cores` cores; UsageError when jobs × threads > cores
// and oversubscription is not allowed.
int threads_per_run(const SweepOptions& opt, int cores);

// UsageError when a run directory already holds a run of another configuration (the sweep
// file changed under an existing folder): nothing is ever silently overwritten.
void check_run_dirs(const Sweep& sweep);

// Writes SWEEP_DIR/plan.json, then runs the shard's unfinished runs.
SweepOutcome run_sweep(const Sweep& sweep, const SweepOptions& opt);

}  // namespace qt
