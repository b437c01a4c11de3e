#pragma once
// `qtrain sweep SWEEP.json --emit-slurm FILE`: an sbatch job-array script whose task i runs
// shard i/n of the sweep (`qtrain sweep SWEEP.json --out DIR --shard i/n`), with absolute paths.
// Any task can be resubmitted alone: finished runs are skipped, unfinished ones resumed.
#include <string>

#include "app/sweep/sweep_spec.h"

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
// paths inside the sweep, such as data.dir, are read from there). Nothing that reaches the script
// can run as a command: paths are single-quoted (control characters refused), the sweep's name is
// escaped in comments and reduced to [A-Za-z0-9_.-] in the job name, the #SBATCH values (which
// Slurm parses without a shell) must match strict patterns. UsageError naming the option
// otherwise.
SlurmScript slurm_script(const Sweep& sweep, const std::string& qtrain, const std::string& workdir,
                         const std::string& script_path, const SlurmOptions& opt);

// Single-quotes a word for bash (and sh).
std::string shell_quote(const std::string& s);

// `s` on one line: newline, tab and the other control characters as \n, \t, \xNN.
std::string printable(const std::string& s);

}  // namespace qt
