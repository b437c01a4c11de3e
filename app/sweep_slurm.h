#pragma once
// `qtrain sweep SWEEP.json --emit-slurm FILE`: an sbatch job-array script whose task i runs
// shard i/n of the sweep (`qtrain sweep SWEEP.json --out DIR --shard i/n`), with absolute paths.
// Any task can be resubmitted alone: finished runs are skipped, unfinished ones resumed.
#include <string>

#include "app/sweep_spec.h"

namespace qt {

struct SlurmOptions {
  std::string partition, time, mem;  // "" = the cluster's defaults
  int cpus_per_task = 1;
  int tasks = 0;  // array size (0 = one task per run)
  int jobs = 1;   // runs at once inside each task
  double checkpoint_every = 300;
};

struct SlurmScript {
  std::string text;
  int tasks = 0;
  std::string submit;  // the commands that submit it and then the summary
};

// `sweep.file` and `sweep.out` must be absolute; `workdir` is where the tasks start (relative
// paths inside the sweep, such as data.dir, are read from there). UsageError on a bad option.
SlurmScript slurm_script(const Sweep& sweep, const std::string& qtrain, const std::string& workdir,
                         const std::string& script_path, const SlurmOptions& opt);

// Single-quotes a word for bash.
std::string shell_quote(const std::string& s);

}  // namespace qt
