#pragma once
// `qtrain sweep SWEEP.json --emit-slurm FILE`: an sbatch job-array script whose task i runs
// shard i/n of the sweep (`qtrain sweep SWEEP.json --out DIR --shard i/n`), with absolute paths.
// With --nodes K --ntasks-per-node R each task holds K nodes and starts each of its runs as
// `srun … qtrain train`: K·R MPI processes training one network (docs/scaling.md). Any task can be
// resubmitted alone: finished runs are skipped, unfinished ones resumed.
#include <string>

#include "app/sweep/sweep_spec.h"

namespace qt {

struct SlurmOptions {
  std::string partition, time, mem;  // "" = the cluster's defaults
  int cpus_per_task = 1;
  int tasks = 0;  // array size (0 = one task per run)
  int jobs = 1;   // runs at once inside each task
  double checkpoint_every = 300;
  // Runs that each span nodes: every task asks for `nodes` × `ntasks_per_node` processes of
  // `cpus_per_task` CPUs and starts each run's processes with srun as one MPI training
  // (0, 0 = one process per run, as plain tasks).
  int nodes = 0, ntasks_per_node = 0;
  std::string mpi = "pmix";  // srun's --mpi: how the processes find each other
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
