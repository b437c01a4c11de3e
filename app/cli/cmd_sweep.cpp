#include "app/cli/cmd_sweep.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>

#include "app/cli/config_flags.h"
#include "app/run/interrupt.h"
#include "app/sweep/sweep_plan.h"
#include "app/sweep/sweep_process.h"
#include "app/sweep/sweep_runner.h"
#include "app/sweep/sweep_slurm.h"
#include "app/sweep/sweep_status.h"
#include "app/sweep/sweep_summary.h"
#include "engine/core/error.h"
#include "engine/core/files.h"

namespace qt {

namespace fs = std::filesystem;

namespace {

struct SweepArgs {
  std::string file, out, shard, summary, emit_slurm, launcher;
  SweepOptions run;
  SlurmOptions slurm;
  bool dry_run = false;
  std::vector<CLI::Option*> slurm_only;
};

std::string absolute(const std::string& p) {
  return fs::absolute(p).lexically_normal().string();
}

void print_summary(const Sweep& sweep) {
  // Read and written under one lock: of two sweep processes ending together, the one that reads
  // the runs later also writes later, so the table left is never older than one written before.
  const int lock = lock_file(sweep.out + "/.summary.lock");
  SweepSummary s;
  try {
    s = collect_summary(sweep);
    write_summary(s);
  } catch (...) {
    unlock_run(lock);
    throw;
  }
  unlock_run(lock);
  std::printf("\n%s\nwritten: %s/sweep.csv, sweep_points.csv, sweep.json\n",
              summary_table(s).c_str(), s.dir.c_str());
  std::fflush(stdout);
}

void dry_run(const Sweep& sweep, const SweepArgs& a) {
  check_run_dirs(sweep);
  const int cores = available_cores();
  const int threads = threads_per_run(a.run, cores);
  size_t in = 0;
  for (size_t i = 0; i < sweep.runs.size(); ++i) in += in_shard(i, a.run.shard);
  std::printf("sweep %s: %zu runs (%s)", sweep.name.c_str(), sweep.runs.size(),
              sweep.shape.c_str());
  if (a.run.shard.count > 1)
    std::printf(", shard %d/%d: %zu of them", a.run.shard.index, a.run.shard.count, in);
  std::printf("; %d at once × %d thread%s (%d cores) → %s\n", a.run.jobs, threads,
              threads == 1 ? "" : "s", cores, sweep.out.c_str());
  const int width = static_cast<int>(std::to_string(sweep.runs.size()).size());
  for (size_t i = 0; i < sweep.runs.size(); ++i) {
    if (!in_shard(i, a.run.shard)) continue;
    const RunStatus st = read_run_status(sweep.out + "/" + sweep.runs[i].name);
    std::string state = run_state_name(st.state);
    if (st.state == RunState::Unfinished)
      state += " (epoch " + std::to_string(st.epochs_done) + ")";
    std::printf("%*zu  %-20s %s\n", width, i, state.c_str(), sweep.runs[i].name.c_str());
  }
}

void emit_slurm(Sweep sweep, const SweepArgs& a) {
  sweep.out = absolute(sweep.out);
  SlurmOptions opt = a.slurm;
  opt.jobs = a.run.jobs;
  opt.checkpoint_every = a.run.checkpoint_every;
  const std::string path = absolute(a.emit_slurm);
  SlurmScript s = slurm_script(sweep, self_exe(), fs::current_path().string(), path, opt);
  make_dirs(sweep.out + "/slurm");  // Slurm does not create the folder of --output
  if (fs::path(path).has_parent_path()) make_dirs(fs::path(path).parent_path().string());
  write_file_atomic(path, s.text);
  ::chmod(path.c_str(), 0755);
  std::printf(
      "wrote %s: a Slurm array of %d task%s over %zu runs (%s) → %s\nsubmit it, then the "
      "summary:\n%s",
      path.c_str(), s.tasks, s.tasks == 1 ? "" : "s", sweep.runs.size(), sweep.shape.c_str(),
      sweep.out.c_str(), s.submit.c_str());
}

void run(const SweepArgs& a) {
  if (!a.summary.empty()) {
    if (!a.file.empty())
      throw UsageError("--summary DIR reads the sweep folder alone: drop the sweep file");
    print_summary(read_plan(a.summary));
    return;
  }
  if (a.file.empty())
    throw UsageError(
        "give the sweep file: qtrain sweep SWEEP.json (or --summary DIR); docs/sweeps.md describes "
        "it");
  if (a.emit_slurm.empty())
    for (auto* o : a.slurm_only)
      if (o->count()) throw UsageError(o->get_name() + " only applies with --emit-slurm FILE");
  SweepOptions opt = a.run;
  if (!a.shard.empty()) opt.shard = parse_shard(a.shard);
  std::istringstream words(a.launcher);
  for (std::string w; words >> w;) opt.launcher.push_back(w);
  Sweep sweep = load_sweep(a.file);
  if (!a.out.empty()) sweep.out = a.out;
  if (!a.emit_slurm.empty()) {
    if (!a.shard.empty()) throw UsageError("--emit-slurm writes every shard's task: drop --shard");
    if (!a.launcher.empty())
      throw UsageError(
          "--emit-slurm writes the launcher of its runs itself (--nodes, "
          "--ntasks-per-node): drop --launcher");
    auto given = [&](const std::string& name) {
      for (auto* o : a.slurm_only)
        if (o->get_name() == name) return o->count() > 0;
      return false;
    };
    if (given("--mpi") && !given("--nodes") && !given("--ntasks-per-node"))
      throw UsageError(
          "--mpi is srun's MPI plugin for runs that span processes: give --nodes "
          "or --ntasks-per-node too, or drop it");
    emit_slurm(sweep, a);
    return;
  }
  if (a.dry_run) {
    SweepArgs b = a;
    b.run = opt;
    dry_run(sweep, b);
    return;
  }
  opt.stop = install_interrupt_handler();
  const SweepOutcome o = run_sweep(sweep, opt);
  print_summary(sweep);
  if (o.interrupted)
    throw Interrupted(
        "sweep interrupted: the runs in progress saved their checkpoints; run the same command "
        "again to continue");
  if (o.failed)
    throw std::runtime_error(std::to_string(o.failed) + " run" + (o.failed == 1 ? "" : "s") +
                             " failed (errors above; each run's output is in its train.out); run "
                             "the sweep again to retry");
  if (o.busy)
    throw RunsBusy(std::to_string(o.busy) + " run" + (o.busy == 1 ? "" : "s") +
                   " skipped: another sweep process was running " + (o.busy == 1 ? "it" : "them") +
                   " (each run trains in one process only); run the same command again once that "
                   "process has ended to finish the sweep or see it finished");
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  CLI::App* cmd =
      app.add_subcommand("sweep",
                         "Run a grid of trainings from a sweep file (docs/sweeps.md): each run in "
                         "its own directory, finished runs "
                         "skipped, unfinished ones resumed; summary in sweep.csv and sweep.json.");
  cmd->add_option("sweep", a->file, "the sweep file (JSON: base, grid, zip, runs, seeds, out)");
  cmd->add_flag("--dry-run", a->dry_run, "list the runs (with their state) and exit");
  cmd->add_option("-j,--jobs", a->run.jobs, "trainings at once [default: 1]")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", a->run.threads,
                  "threads per training (0 = cores / jobs) [default: 0]")
      ->check(CLI::Range(0, 1024));
  cmd->add_flag("--oversubscribe", a->run.oversubscribe, "allow jobs × threads > cores");
  cmd->add_option("--shard", a->shard,
                  "run one share i/n of the sweep: run k goes to shard k mod n");
  cmd->add_option("--out", a->out,
                  "the sweep folder [default: the file's \"out\", else runs/sweep-<name>]");
  cmd->add_option(
         "--checkpoint-every", a->run.checkpoint_every,
         "seconds between mid-epoch checkpoints of each run (0 = epoch ends only) [default: 300]")
      ->check(finite_number(0, std::numeric_limits<double>::infinity()));
  cmd->add_option("--summary", a->summary,
                  "write and print the summary of the sweep folder DIR, and exit");
  cmd->add_option("--launcher", a->launcher,
                  "words put before each run's `qtrain train`, split at spaces (no quoting), e.g. "
                  "'srun --mpi=pmix': the processes it starts train the run together over MPI "
                  "[default: none]");
  cmd->add_option("--emit-slurm", a->emit_slurm,
                  "write an sbatch job-array script (one shard per task) and exit");
  a->slurm_only = {
      cmd->add_option("--tasks", a->slurm.tasks,
                      "--emit-slurm: array tasks (0 = one per run) [default: 0]")
          ->check(CLI::NonNegativeNumber),
      cmd->add_option("--partition", a->slurm.partition,
                      "--emit-slurm: the partition [default: the cluster's]"),
      cmd->add_option("--time", a->slurm.time,
                      "--emit-slurm: time limit per task, e.g. 2:00:00 [default: the partition's]"),
      cmd->add_option("--cpus-per-task", a->slurm.cpus_per_task,
                      "--emit-slurm: CPUs per task [default: 1]")
          ->check(CLI::Range(1, 4096)),
      cmd->add_option("--mem", a->slurm.mem,
                      "--emit-slurm: memory per task, e.g. 4G [default: the partition's]"),
      cmd->add_option("--nodes", a->slurm.nodes,
                      "--emit-slurm: nodes per task, for runs that span nodes: each run is then "
                      "one MPI training of nodes × ntasks-per-node processes started by srun, "
                      "each of --cpus-per-task CPUs; the runs' shards must be a multiple of that "
                      "[default: 1 when --ntasks-per-node is given, else one process per run]")
          ->check(CLI::Range(1, 100000)),
      cmd->add_option("--ntasks-per-node", a->slurm.ntasks_per_node,
                      "--emit-slurm: MPI processes per node of each run [default: 1 when --nodes "
                      "is given]")
          ->check(CLI::Range(1, 4096)),
      cmd->add_option("--mpi", a->slurm.mpi,
                      "--emit-slurm with --nodes or --ntasks-per-node: srun's MPI plugin, how "
                      "the run's processes find each other (`srun --mpi=list`) [default: pmix]")};
  cmd->callback([a]() { run(*a); });
}

}  // namespace qt
