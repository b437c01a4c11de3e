#include "app/sweep/sweep_slurm.h"

#include <algorithm>
#include <cstdio>
#include <regex>

#include "engine/core/error.h"

namespace qt {

namespace {

// Slurm reads the #SBATCH lines itself, without a shell: no quoting can protect a value there,
// so each value must match its strict pattern.
void check(const std::string& value, const char* re, const std::string& option,
           const std::string& example) {
  if (!value.empty() && !std::regex_match(value, std::regex(re)))
    throw UsageError(option + " '" + printable(value) +
                     "' is not a Slurm value of that kind (e.g. " + option + " " + example + ")");
}

// A path goes into the script's commands single-quoted, and into its comments (the lines that say
// how to submit it) as well: a newline there would end the comment and run the rest as a command.
// Quoting makes every other character safe; control characters are refused.
void check_path(const std::string& path, const std::string& what) {
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f)
      throw UsageError(what + " '" + printable(path) +
                       "' contains a control character (such as a newline), which the Slurm "
                       "script cannot hold safely: rename it or use another path");
}

// A word as the shell reads it: as it is when plain, else single-quoted.
std::string shell_word(const std::string& s) {
  return std::regex_match(s, std::regex("[A-Za-z0-9/._+=,:@-]+")) ? s : shell_quote(s);
}

// Runs over K·R processes: one at a time per task (they fill its nodes), each with shards that
// the processes can share.
void check_spanning_runs(const Sweep& sweep, const SlurmOptions& opt, int nodes, int per_node) {
  const int procs = nodes * per_node;
  const std::string layout = "--nodes " + std::to_string(nodes) + " × --ntasks-per-node " +
                             std::to_string(per_node) + " = " + std::to_string(procs) +
                             " processes";
  if (opt.jobs > 1)
    throw UsageError(
        "--jobs " + std::to_string(opt.jobs) + " with " + layout +
        ": each run fills the task's nodes, so a task runs one at a time: drop --jobs");
  if (!std::regex_match(opt.mpi, std::regex("[a-z0-9_]+")))
    throw UsageError("--mpi '" + printable(opt.mpi) +
                     "' is not a Slurm MPI plugin name (e.g. --mpi pmix)");
  for (const SweepRun& run : sweep.runs) {
    const int shards = run.config.value("shards", 1);
    if (shards % procs != 0)
      throw UsageError("run " + run.name + " has " + std::to_string(shards) + " shard" +
                       (shards == 1 ? "" : "s") + ", which " + layout +
                       " cannot share: set \"shards\" to a multiple of " + std::to_string(procs) +
                       " in the sweep file (docs/scaling.md)");
  }
}

}  // namespace

std::string printable(const std::string& s) {
  static const char hex[] = "0123456789abcdef";
  std::string r;
  for (unsigned char c : s) {
    if (c == '\n')
      r += "\\n";
    else if (c == '\t')
      r += "\\t";
    else if (c == '\r')
      r += "\\r";
    else if (c < 0x20 || c == 0x7f)
      r += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    else
      r += static_cast<char>(c);
  }
  return r;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

SlurmScript slurm_script(const Sweep& sweep, const std::string& qtrain, const std::string& workdir,
                         const std::string& script_path, const SlurmOptions& opt) {
  check(opt.partition, "[A-Za-z0-9_.,-]+", "--partition", "debug");
  check(opt.time, "[0-9]+(-[0-9]+)?(:[0-9]+){0,2}", "--time", "2:00:00");
  check(opt.mem, "[0-9]+[KMGT]?", "--mem", "4G");
  check_path(script_path, "--emit-slurm");
  check_path(sweep.file, "the sweep file");
  check_path(workdir, "the working directory");
  check_path(qtrain, "the qtrain binary");
  // #SBATCH lines take no shell quoting: the log folder's path must be plain.
  if (!std::regex_match(sweep.out, std::regex("/[A-Za-z0-9/._+=,-]*")))
    throw UsageError(
        "--emit-slurm: the sweep folder '" + printable(sweep.out) +
        "' must be an absolute path of letters, digits and / . _ + = , - (Slurm's #SBATCH "
        "--output cannot quote it): choose another --out");
  if (opt.cpus_per_task < 1) throw UsageError("--cpus-per-task must be at least 1");
  if (opt.jobs > opt.cpus_per_task)
    throw UsageError("--jobs " + std::to_string(opt.jobs) + " > --cpus-per-task " +
                     std::to_string(opt.cpus_per_task) +
                     ": each task runs --jobs runs at once on its own CPUs; raise --cpus-per-task "
                     "or lower --jobs");
  if (opt.tasks < 0) throw UsageError("--tasks must be at least 1 (or 0 for one task per run)");
  const bool spans = opt.nodes > 0 || opt.ntasks_per_node > 0;
  const int nodes = std::max(opt.nodes, 1), per_node = std::max(opt.ntasks_per_node, 1);
  if (spans) check_spanning_runs(sweep, opt, nodes, per_node);
  const int runs = static_cast<int>(sweep.runs.size());
  SlurmScript s;
  s.tasks = opt.tasks == 0 ? runs : std::min(opt.tasks, runs);
  const std::string n = std::to_string(s.tasks), q_script = shell_quote(script_path);
  char every[32];
  std::snprintf(every, sizeof every, "%g", opt.checkpoint_every);
  // --wrap's text is itself a command line (sbatch runs it with sh): quoted once for that shell
  // and once more for the shell that runs sbatch.
  const std::string summary_cmd = shell_word(qtrain) + " sweep --summary " + shell_word(sweep.out);
  const std::string summary_job = "sbatch --dependency=afterany:$jid" +
                                  (opt.partition.empty() ? "" : " --partition=" + opt.partition) +
                                  " --output=" + sweep.out +
                                  "/slurm/summary-%j.out --wrap=" + shell_quote(summary_cmd) + "\n";
  s.submit = "jid=$(sbatch --parsable " + q_script + ")\n" + summary_job;

  std::string t = "#!/bin/bash\n";
  // The name is the sweep file's free text: in this comment its control characters are escaped.
  t += "# qtrain sweep '" + printable(sweep.name) + "' as a Slurm job array: " + n +
       " tasks; task i runs the runs k with\n";
  t += "# k mod " + n + " = i (" + std::to_string(runs) + " runs: " + sweep.shape +
       "). Finished runs are skipped and\n";
  t += "# unfinished ones resumed, so any task can be resubmitted alone: sbatch --array=" +
       std::to_string(s.tasks - 1) + " " + q_script + "\n";
  t += "# Submit, then write the summary once every task has ended:\n";
  t += "#   jid=$(sbatch --parsable " + q_script + ")\n";
  t += "#   " + summary_job;
  t += "# Without Slurm, run a task by hand: SLURM_ARRAY_TASK_ID=0 bash " + q_script + "   (0 … " +
       std::to_string(s.tasks - 1) + ")\n";
  t += "#SBATCH --job-name=qtrain-" +
       std::regex_replace(sweep.name, std::regex("[^A-Za-z0-9_.-]"), "_") + "\n";
  t += "#SBATCH --array=0-" + std::to_string(s.tasks - 1) + "\n";
  if (spans) {
    t += "#SBATCH --nodes=" + std::to_string(nodes) + "\n";
    t += "#SBATCH --ntasks-per-node=" + std::to_string(per_node) + "\n";
  } else {
    t += "#SBATCH --ntasks=1\n";
  }
  t += "#SBATCH --cpus-per-task=" + std::to_string(opt.cpus_per_task) + "\n";
  if (!opt.time.empty()) t += "#SBATCH --time=" + opt.time + "\n";
  if (!opt.mem.empty()) t += "#SBATCH --mem=" + opt.mem + "\n";
  if (!opt.partition.empty()) t += "#SBATCH --partition=" + opt.partition + "\n";
  t += "#SBATCH --output=" + sweep.out + "/slurm/%A_%a.out\n";
  t += "set -eu\n";
  t += "if [ -z \"${SLURM_ARRAY_TASK_ID:-}\" ]; then\n";
  t += "  echo \"$0: submit it with sbatch, or set SLURM_ARRAY_TASK_ID (0 … " +
       std::to_string(s.tasks - 1) + ") to run one task here\" >&2\n  exit 2\nfi\n";
  t += "cd " + shell_quote(workdir) + "\n";
  t +=
      "echo \"qtrain sweep task ${SLURM_ARRAY_TASK_ID}/" + n + " on $(hostname) at $(date -Is)\"\n";
  t += "exec " + shell_quote(qtrain) + " sweep " + shell_quote(sweep.file) + " --out " +
       shell_quote(sweep.out) + " --shard \"${SLURM_ARRAY_TASK_ID}/" + n + "\" --jobs " +
       std::to_string(opt.jobs) + " --checkpoint-every " + every;
  // srun inside the job does not take --cpus-per-task from it (Slurm ≥ 22.05): said again.
  // --kill-on-bad-exit: a rank that fails ends its run's other ranks at once.
  if (spans)
    t += " --launcher 'srun --mpi=" + opt.mpi +
         " --kill-on-bad-exit=1 --nodes=" + std::to_string(nodes) +
         " --ntasks-per-node=" + std::to_string(per_node) +
         " --cpus-per-task=" + std::to_string(opt.cpus_per_task) + "'";
  t += "\n";
  s.text = t;
  return s;
}

}  // namespace qt
