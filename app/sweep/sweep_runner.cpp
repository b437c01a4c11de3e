#include "app/sweep/sweep_runner.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "app/config/config.h"
#include "app/config/options_algorithm.h"
#include "app/sweep/sweep_plan.h"
#include "app/sweep/sweep_process.h"
#include "app/sweep/sweep_status.h"
#include "engine/core/bounded_json.h"
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

// The first key whose value differs, as "key: old → new", preferring a key set by hand.
std::string first_difference(const json& had, const json& wants) {
  const json a = had.flatten(), b = wants.flatten();
  // A default that follows the run's length (null in the schema) changes with what it follows:
  // name the key that was changed, not the one derived from it.
  auto derived = [](std::string k) {
    std::replace(k.begin(), k.end(), '/', '.');
    return !default_follows(k.substr(1)).empty();
  };
  for (bool derived_too : {false, true})
    for (auto& [k, v] : b.items())
      if ((!a.contains(k) || a[k] != v) && (derived_too || !derived(k)))
        return k.substr(1) + ": " + (a.contains(k) ? a[k].dump() : "absent") + " → " + v.dump();
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
    throw UsageError(
        "--jobs " + std::to_string(opt.jobs) + " × " + std::to_string(threads) +
        (threads == 1 ? " thread = " : " threads = ") + std::to_string(opt.jobs * threads) + " > " +
        std::to_string(cores) +
        " cores: lower --jobs or --threads (or add --oversubscribe to run them anyway, slower)");
  return threads;
}

void check_run_dirs(const Sweep& sweep) {
  for (auto& run : sweep.runs) {
    const std::string path = sweep.out + "/" + run.name + "/config.json";
    if (!fs::exists(path)) continue;
    json had;
    try {
      had = parse_bounded_json(read_file(path));
    } catch (const json::exception& e) {
      throw DataError(path + ": is not valid JSON (" + e.what() +
                      "): delete that run directory to redo the run");
    }
    had = complete_config(had);  // a run written before a key existed used its default
    if (without_threads(had) != without_threads(run.config))
      throw UsageError(sweep.out + "/" + run.name + " holds a run with another configuration (" +
                       first_difference(without_threads(had), without_threads(run.config)) +
                       "): the sweep changed; restore it, give the sweep another \"out\" (or "
                       "--out), or delete that run directory");
  }
}

namespace {

// One sweep process at work: the queue of the shard's runs, the trainings running, the tally.
class Execution {
 public:
  Execution(const Sweep& sweep, const SweepOptions& opt, int threads, std::string qtrain)
      : sweep_(sweep), opt_(opt), threads_(threads), qtrain_(std::move(qtrain)) {}

  SweepOutcome run() {
    for (size_t i = 0; i < sweep_.runs.size(); ++i) {
      if (!in_shard(i, opt_.shard)) continue;
      if (read_run_status(dir(i)).state == RunState::Finished)
        ++out_.already;
      else
        queue_.push_back(i);
    }
    if (opt_.log) {
      const std::string shard = opt_.shard.count > 1
                                    ? ", shard " + std::to_string(opt_.shard.index) + "/" +
                                          std::to_string(opt_.shard.count)
                                    : "";
      std::fprintf(opt_.log,
                   "sweep %s: %zu runs (%s)%s: %d finished before, %zu to run, %d at once × %d "
                   "thread%s → %s\n",
                   sweep_.name.c_str(), sweep_.runs.size(), sweep_.shape.c_str(), shard.c_str(),
                   out_.already, queue_.size(), opt_.jobs, threads_, threads_ == 1 ? "" : "s",
                   sweep_.out.c_str());
    }
    try {
      while (!running_.empty() || (!queue_.empty() && !stopping())) {
        while (!queue_.empty() && static_cast<int>(running_.size()) < opt_.jobs && !stopping()) {
          const size_t i = queue_.front();
          queue_.pop_front();
          start(i);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
        reap();
      }
    } catch (...) {
      stop_children();  // they save their checkpoints before the error goes up
      throw;
    }
    out_.interrupted = stopping() || !queue_.empty();
    return out_;
  }

 private:
  std::string dir(size_t i) const { return sweep_.out + "/" + sweep_.runs[i].name; }
  int epochs(size_t i) const { return sweep_.runs[i].config.value("epochs", 0); }
  bool stopping() const { return opt_.stop && opt_.stop->load(); }

  void say(size_t i, const std::string& what) const {
    if (!opt_.log) return;
    std::fprintf(opt_.log, "[%*zu/%zu] %s\n",
                 static_cast<int>(std::to_string(sweep_.runs.size()).size()), i + 1,
                 sweep_.runs.size(), what.c_str());
    std::fflush(opt_.log);
  }

  // Starts run i as a child process, unless another sweep process holds it or it has finished.
  void start(size_t i) {
    const SweepRun& run = sweep_.runs[i];
    const std::string d = dir(i);
    make_dirs(d);
    const int lock = try_lock_run(d);
    if (lock < 0) {
      ++out_.busy;
      say(i, "busy     " + run.name + " (another sweep process is running it)");
      return;
    }
    const RunStatus st = read_run_status(d);  // again, under the lock
    if (st.state == RunState::Finished) {
      unlock_run(lock);
      ++out_.already;
      return;
    }
    std::vector<std::string> argv = opt_.launcher;
    argv.insert(argv.end(), {qtrain_, "train"});
    if (st.has_checkpoint) {
      argv.insert(argv.end(), {"--resume", d});
    } else {
      json request = run.config;
      request["threads"] = threads_;
      write_file_atomic(d + "/config.request.json", request.dump(2) + "\n");
      argv.insert(argv.end(), {"--config", d + "/config.request.json", "--out", d});
    }
    char every[32];
    std::snprintf(every, sizeof every, "%g", opt_.checkpoint_every);
    argv.insert(argv.end(),
                {"--threads", std::to_string(threads_), "--checkpoint-every", every, "--quiet"});
    clear_exit_record(d);
    {
      std::ofstream log(d + "/train.out", std::ios::app);
      std::string cmd;
      for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
      log << "== qtrain sweep: " << cmd << "\n";
    }
    Running child;
    child.index = i;
    child.lock_fd = lock;
    try {
      child.pid = spawn_child(argv, d + "/train.out", lock);
    } catch (...) {
      unlock_run(lock);
      throw;
    }
    child.start = Clock::now();
    running_.push_back(child);
    say(i, st.has_checkpoint ? "resume   " + run.name + " (" + std::to_string(st.epochs_done) +
                                   " of " + std::to_string(epochs(i)) + " epochs done)"
                             : "start    " + run.name);
  }

  // Forwards a stop request once to each child; records the children that have ended.
  void reap() {
    for (auto it = running_.begin(); it != running_.end();) {
      if (stopping() && !it->signalled) forward_stop(*it);
      const int code = poll_child(it->pid);
      if (code < 0) {
        ++it;
        continue;
      }
      finished(*it, code);
      it = running_.erase(it);
    }
  }

  // A child must get exactly one stop signal: a second one makes it quit without its checkpoint.
  // When the whole job was signalled (Slurm's time limit or scancel signal every process), the
  // child got its own and says so in its output; otherwise (Ctrl-C on a terminal reaches the
  // sweep only: the children have their own process group) the sweep sends one SIGINT, after a
  // short grace that lets a child's own signal show first.
  void forward_stop(Running& c) {
    const auto now = Clock::now();
    if (!stop_seen_) stop_seen_ = now;
    if (announced_stop(dir(c.index) + "/train.out")) {
      c.signalled = true;
    } else if (now - *stop_seen_ > std::chrono::milliseconds(500)) {
      ::kill(c.pid, SIGINT);
      c.signalled = true;
    }
  }

  // Whether the last attempt's output holds the training's "stopping" line (app/run/interrupt.cpp).
  static bool announced_stop(const std::string& log_path) {
    std::ifstream in(log_path);
    std::string line;
    bool stopping = false;
    while (std::getline(in, line)) {
      if (line.rfind("== qtrain sweep:", 0) == 0)
        stopping = false;
      else if (line.find("stopping after this step") != std::string::npos)
        stopping = true;
    }
    return stopping;
  }

  void stop_children() {
    for (auto& c : running_) {
      if (!c.signalled) ::kill(c.pid, SIGINT);
      int status = 0;
      ::waitpid(c.pid, &status, 0);
      unlock_run(c.lock_fd);
    }
    running_.clear();
  }

  void finished(const Running& child, int code) {
    const size_t i = child.index;
    const std::string& name = sweep_.runs[i].name;
    const std::string d = dir(i);
    const double seconds = std::chrono::duration<double>(Clock::now() - child.start).count();
    write_exit_record(d, code, seconds, d + "/train.out");
    unlock_run(child.lock_fd);
    const RunStatus st = read_run_status(d);
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f s", seconds);
    if (st.state == RunState::Finished) {
      ++out_.finished;
      say(i, "finished " + name + ": final test " + pct(st.summary, "final") + ", best " +
                 pct(st.summary, "best") + " (" + secs + ")");
    } else if (st.state == RunState::Failed) {
      ++out_.failed;
      say(i, "FAILED   " + name + ": " + st.error + " (" + d + "/train.out)");
    } else {
      say(i, "stopped  " + name + " after " + std::to_string(st.epochs_done) + " of " +
                 std::to_string(epochs(i)) + " epochs" +
                 (st.has_checkpoint ? " (checkpoint saved: resumable)"
                                    : " (no checkpoint yet: restarts)"));
    }
  }

  const Sweep& sweep_;
  const SweepOptions& opt_;
  const int threads_;
  const std::string qtrain_;
  std::deque<size_t> queue_;
  std::vector<Running> running_;
  std::optional<Clock::time_point> stop_seen_;
  SweepOutcome out_;
};

// The launcher's program as the shell finds it (the runs are started by execv, which does not
// search the PATH), checked before any run starts.
std::string program_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string p = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  throw UsageError("--launcher: '" + name + "' is not a program on the PATH");
}

}  // namespace

SweepOutcome run_sweep(const Sweep& sweep, const SweepOptions& given) {
  SweepOptions opt = given;
  if (!opt.launcher.empty()) opt.launcher[0] = program_path(opt.launcher[0]);
  const int threads = threads_per_run(opt, available_cores());
  std::string qtrain = opt.qtrain.empty() ? self_exe() : opt.qtrain;
  check_run_dirs(sweep);
  write_plan(sweep, sweep.out);
  return Execution(sweep, opt, threads, std::move(qtrain)).run();
}

}  // namespace qt
