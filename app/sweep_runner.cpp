#include "app/sweep_runner.h"

#include <signal.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include "app/sweep_plan.h"
#include "app/sweep_process.h"
#include "app/sweep_status.h"
#include "engine/core/error.h"
#include "engine/core/files.h"

namespace qt {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Running {
  size_t index = 0;
  pid_t pid = -1;
  int lock_fd = -1;
  Clock::time_point start;
  bool signalled = false;
};

json without_threads(json c) {
  c.erase("threads");
  return c;
}

// The first key whose value differs, as "key: old → new".
std::string first_difference(const json& had, const json& wants) {
  const json a = had.flatten(), b = wants.flatten();
  for (auto& [k, v] : b.items())
    if (!a.contains(k) || a[k] != v) return k.substr(1) + ": " + (a.contains(k) ? a[k].dump() : "absent") + " → " + v.dump();
  for (auto& [k, v] : a.items())
    if (!b.contains(k)) return k.substr(1) + ": " + v.dump() + " → absent";
  return "?";
}

std::string pct(const json& summary, const char* which) {
  if (!summary.is_object() || !summary.contains(which)) return "?";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * summary[which]["test_acc"].get<double>());
  return b;
}

}  // namespace

int threads_per_run(const SweepOptions& opt, int cores) {
  if (opt.jobs < 1) throw UsageError("--jobs must be at least 1");
  const int threads = opt.threads > 0 ? opt.threads : std::max(1, cores / opt.jobs);
  if (!opt.oversubscribe && static_cast<long>(opt.jobs) * threads > cores)
    throw UsageError("--jobs " + std::to_string(opt.jobs) + " × " + std::to_string(threads) + (threads == 1 ? " thread = " : " threads = ") +
                     std::to_string(opt.jobs * threads) + " > " + std::to_string(cores) +
                     " cores: lower --jobs or --threads (or add --oversubscribe to run them anyway, slower)");
  return threads;
}

void check_run_dirs(const Sweep& sweep) {
  for (auto& run : sweep.runs) {
    const std::string path = sweep.out + "/" + run.name + "/config.json";
    if (!fs::exists(path)) continue;
    json had;
    try {
      had = json::parse(read_file(path));
    } catch (const json::exception& e) {
      throw DataError(path + ": is not valid JSON (" + e.what() + "): delete that run directory to redo the run");
    }
    if (without_threads(had) != without_threads(run.config))
      throw UsageError(sweep.out + "/" + run.name + " holds a run with another configuration (" +
                       first_difference(without_threads(had), without_threads(run.config)) +
                       "): the sweep changed; restore it, give the sweep another \"out\" (or --out), or delete that run directory");
  }
}

SweepOutcome run_sweep(const Sweep& sweep, const SweepOptions& opt) {
  const int threads = threads_per_run(opt, available_cores());
  const std::string qtrain = opt.qtrain.empty() ? self_exe() : opt.qtrain;
  check_run_dirs(sweep);
  write_plan(sweep, sweep.out);

  SweepOutcome out;
  auto say = [&](size_t i, const std::string& what) {
    if (!opt.log) return;
    std::fprintf(opt.log, "[%*zu/%zu] %s\n", static_cast<int>(std::to_string(sweep.runs.size()).size()), i + 1,
                 sweep.runs.size(), what.c_str());
    std::fflush(opt.log);
  };
  std::deque<size_t> queue;
  for (size_t i = 0; i < sweep.runs.size(); ++i) {
    if (!in_shard(i, opt.shard)) continue;
    if (read_run_status(sweep.out + "/" + sweep.runs[i].name).state == "finished") ++out.already;
    else queue.push_back(i);
  }
  if (opt.log)
    std::fprintf(opt.log, "sweep %s: %zu runs (%s)%s: %d finished before, %zu to run, %d at once × %d thread%s → %s\n",
                 sweep.name.c_str(), sweep.runs.size(), sweep.shape.c_str(),
                 opt.shard.count > 1 ? (", shard " + std::to_string(opt.shard.index) + "/" + std::to_string(opt.shard.count)).c_str() : "",
                 out.already, queue.size(), opt.jobs, threads, threads == 1 ? "" : "s", sweep.out.c_str());

  std::vector<Running> running;
  auto stopping = [&] { return opt.stop && opt.stop->load(); };
  while (!running.empty() || (!queue.empty() && !stopping())) {
    while (!queue.empty() && static_cast<int>(running.size()) < opt.jobs && !stopping()) {
      const size_t i = queue.front();
      queue.pop_front();
      const SweepRun& run = sweep.runs[i];
      const std::string dir = sweep.out + "/" + run.name;
      make_dirs(dir);
      const int lock = try_lock_run(dir);
      if (lock < 0) {
        ++out.busy;
        say(i, "busy     " + run.name + " (another sweep process is running it)");
        continue;
      }
      const RunStatus st = read_run_status(dir);  // again, under the lock
      if (st.state == "finished") {
        unlock_run(lock);
        ++out.already;
        continue;
      }
      std::vector<std::string> argv = {qtrain, "train"};
      if (st.has_checkpoint) {
        argv.insert(argv.end(), {"--resume", dir});
      } else {
        json request = run.config;
        request["threads"] = threads;
        write_file_atomic(dir + "/config.request.json", request.dump(2) + "\n");
        argv.insert(argv.end(), {"--config", dir + "/config.request.json", "--out", dir});
      }
      char every[32];
      std::snprintf(every, sizeof every, "%g", opt.checkpoint_every);
      argv.insert(argv.end(), {"--threads", std::to_string(threads), "--checkpoint-every", every, "--quiet"});
      clear_exit_record(dir);
      {
        std::ofstream log(dir + "/train.out", std::ios::app);
        std::string cmd;
        for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
        log << "== qtrain sweep: " << cmd << "\n";
      }
      Running child;
      child.index = i;
      child.lock_fd = lock;
      try {
        child.pid = spawn_child(argv, dir + "/train.out", lock);
      } catch (...) {
        unlock_run(lock);
        throw;
      }
      child.start = Clock::now();
      running.push_back(child);
      say(i, std::string(st.has_checkpoint ? "resume   " : "start    ") + run.name +
                 (st.has_checkpoint ? " (" + std::to_string(st.epochs_done) + " of " +
                                                std::to_string(run.config.value("epochs", 0)) + " epochs done)"
                                          : ""));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    for (auto it = running.begin(); it != running.end();) {
      if (stopping() && !it->signalled) {
        ::kill(it->pid, SIGINT);  // once: the child checkpoints and exits 130
        it->signalled = true;
      }
      const int code = poll_child(it->pid);
      if (code < 0) {
        ++it;
        continue;
      }
      const SweepRun& run = sweep.runs[it->index];
      const std::string dir = sweep.out + "/" + run.name;
      const double seconds = std::chrono::duration<double>(Clock::now() - it->start).count();
      write_exit_record(dir, code, seconds, dir + "/train.out");
      unlock_run(it->lock_fd);
      const RunStatus st = read_run_status(dir);
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.1f s", seconds);
      if (st.state == "finished") {
        ++out.finished;
        say(it->index, "finished " + run.name + ": final test " + pct(st.summary, "final") + ", best " +
                           pct(st.summary, "best") + " (" + secs + ")");
      } else if (st.state == "failed") {
        ++out.failed;
        say(it->index, "FAILED   " + run.name + ": " + st.error + " (" + dir + "/train.out)");
      } else {
        say(it->index, "stopped  " + run.name + " at epoch " + std::to_string(st.epochs_done) + " (resumable)");
      }
      it = running.erase(it);
    }
  }
  out.interrupted = stopping() || !queue.empty();
  return out;
}

}  // namespace qt
