// A sweep killed with SIGKILL mid-way and run again: its training processes die with it, the
// finished runs are not recomputed (their files unchanged, to the mtime), the interrupted ones
// resume, and every run ends with exactly the results of a sweep never killed. Ctrl-C (SIGINT)
// is forwarded once: the run in progress saves its checkpoint and the sweep exits 130.
#include <signal.h>
#include <sys/file.h>

#include <sstream>

#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

// Real data, so that the accuracies compared differ between runs (≈ 1 s per run).
const char* kSweep = R"({
  "name": "resume",
  "base": {"model": "mlp", "epochs": 4, "batch_size": 32,
           "data": {"name": "fashion-mnist", "limit_train": 2048, "limit_test": 300, "val_size": 300}},
  "grid": {"lr": [0.02, 0.05, 0.1]},
  "seeds": [0, 1]
})";

const std::vector<std::string> kRuns = {"lr=0.02,seed=0", "lr=0.02,seed=1", "lr=0.05,seed=0",
                                        "lr=0.05,seed=1", "lr=0.1,seed=0",  "lr=0.1,seed=1"};

bool finished(const fs::path& run) {
  try {
    return fs::exists(run / "summary.json") &&
           read_json(run / "summary.json").value("finished", false);
  } catch (const json::exception&) {
    return false;
  }
}

// True when no process holds the run's lock (its training process, if any, has exited).
bool unlocked(const fs::path& run) {
  int fd = open((run / ".sweep.lock").c_str(), O_RDWR);
  if (fd < 0) return true;
  const bool free = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);
  return free;
}

// Waits until `ready()` or the deadline; false (and the exit code in `code`) if `pid` exits first.
template <class Ready>
bool wait_until(pid_t pid, Ready ready, int seconds, int& code) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!ready()) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      code = exit_code(status);
      return false;
    }
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Starts `qtrain sweep` in `dir` on a sweep of one long run (dir/out/base; output into
// dir/sweep.log) and waits until that run has finished an epoch; the sweep's pid.
pid_t start_long_sweep(const fs::path& dir) {
  write(dir / "long.json", R"({
    "base": {"model": "mlp", "epochs": 200, "batch_size": 32,
             "data": {"name": "synthetic", "limit_train": 512, "limit_test": 50}},
    "out": "out"
  })");
  const pid_t pid =
      spawn({qtrain_bin(), "sweep", "long.json", "--threads", "1"}, dir / "sweep.log", dir);
  int code = -1;
  const bool started = wait_until(
      pid, [&] { return !metrics(dir / "out/base").empty(); }, 120, code);
  REQUIRE_MESSAGE(started, "the sweep ended (exit " << code << ") or timed out before an epoch: "
                                                    << slurp(dir / "sweep.log"));
  return pid;
}

json deterministic(const fs::path& run) {
  json s = read_json(run / "summary.json");
  return {{"metrics", metrics(run)},
          {"final", s["final"]},
          {"best", s["best"]},
          {"epochs", s["epochs_done"]}};
}

}  // namespace

TEST_CASE(
    "kill -9 of the sweep mid-way, run it again: nothing finished is redone, results equal an "
    "unkilled sweep") {
  const fs::path dir = scratch("sweep-kill");
  const Cleanup cleanup{dir};
  write(dir / "resume.json", kSweep);
  const fs::path killed = dir / "killed", ref = dir / "ref";
  const std::vector<std::string> args = {
      qtrain_bin(), "sweep", "resume.json",        "--jobs", "1",
      "--threads",  "1",     "--checkpoint-every", "0.05",   "--out"};

  auto with_out = [&](const fs::path& out) {
    auto a = args;
    a.push_back(out.string());
    return a;
  };
  const pid_t pid = spawn(with_out(killed), dir / "killed.log", dir);
  // Kill the sweep in the middle of its third run, once that run has saved a checkpoint.
  const fs::path third = killed / kRuns[2];
  int code = -1;
  const bool mid_run = wait_until(
      pid, [&] { return fs::exists(third / "checkpoints/last.ckpt") && !finished(third); }, 240,
      code);
  INFO(slurp(dir / "killed.log"));
  REQUIRE_MESSAGE(mid_run, "the sweep ended (exit "
                               << code << ") or timed out before its third run checkpointed");
  kill(pid, SIGKILL);
  CHECK(wait_exit(pid) == 128 + SIGKILL);

  std::vector<std::string> done;
  for (auto& r : kRuns)
    if (finished(killed / r)) done.push_back(r);
  REQUIRE(done == std::vector<std::string>{kRuns[0],
                                           kRuns[1]});  // killed mid-way: the test means something
  // The training process died with the sweep: its lock is free within a moment.
  bool all_free = false;
  for (int i = 0; i < 100 && !all_free; ++i) {
    all_free = true;
    for (auto& r : kRuns) all_free = all_free && unlocked(killed / r);
    if (!all_free) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_MESSAGE(all_free, "a training process outlived the killed sweep");

  std::map<std::string, decltype(snapshot(dir))> before;
  for (auto& r : done) before[r] = snapshot(killed / r);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a rewrite would show in the mtime

  Result again = run(with_out(killed), dir);
  INFO(again.output);
  REQUIRE(again.code == 0);
  CHECK(again.output.find(std::to_string(done.size()) + " finished before, " +
                          std::to_string(kRuns.size() - done.size()) + " to run") !=
        std::string::npos);
  for (auto& r : done) CHECK_MESSAGE(snapshot(killed / r) == before[r], (r + " was rewritten"));
  CHECK(again.output.find("resume   " + kRuns[2] + " (") != std::string::npos);

  Result clean = run(with_out(ref), dir);
  REQUIRE(clean.code == 0);
  for (auto& r : kRuns) {
    CHECK(finished(killed / r));
    CHECK_MESSAGE(deterministic(killed / r) == deterministic(ref / r),
                  (r + " differs from the unkilled sweep"));
  }
  json a = read_json(killed / "sweep.json"), b = read_json(ref / "sweep.json");
  CHECK(a["counts"]["finished"] == 6);
  for (size_t i = 0; i < 6; ++i) {
    CHECK(a["runs"][i]["final_test_acc"] == b["runs"][i]["final_test_acc"]);
    CHECK(a["runs"][i]["test_at_best_val_acc"] == b["runs"][i]["test_at_best_val_acc"]);
    CHECK(a["runs"][i]["max_test_acc"] == b["runs"][i]["max_test_acc"]);
  }
  CHECK(a["points"][1]["final_test_acc"] == b["points"][1]["final_test_acc"]);
}

TEST_CASE(
    "SIGINT: the sweep forwards it once, the run saves its checkpoint, exit 130; a re-run resumes "
    "it") {
  const fs::path dir = scratch("sweep-int");
  const Cleanup cleanup{dir};
  const pid_t pid = start_long_sweep(dir);
  const fs::path run_dir = dir / "out/base";
  kill(pid, SIGINT);
  const int code = wait_exit(pid);
  const std::string log = slurp(dir / "sweep.log");
  INFO(log);
  CHECK(code == 130);
  CHECK(log.find("stopped  base after ") != std::string::npos);
  CHECK(log.find("(checkpoint saved: resumable)") != std::string::npos);
  CHECK(fs::exists(run_dir / "checkpoints/last.ckpt"));
  CHECK_FALSE(finished(run_dir));
  json sj = read_json(dir / "out/sweep.json");
  CHECK(sj["runs"][0]["status"] == "unfinished");

  Result dry = run({qtrain_bin(), "sweep", "long.json", "--dry-run", "--threads", "1"}, dir);
  CHECK(dry.output.find("unfinished (epoch ") != std::string::npos);
}

namespace {

// The PIDs of the running children of `parent` (from /proc).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> kids;
  for (auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != 'Z') kids.push_back(std::stoi(name));
  }
  return kids;
}

}  // namespace

TEST_CASE(
    "SIGTERM to every process of the sweep, as Slurm sends it: each run stops once, with its "
    "checkpoint") {
  const fs::path dir = scratch("sweep-term");
  const Cleanup cleanup{dir};
  const pid_t pid = start_long_sweep(dir);
  const fs::path run_dir = dir / "out/base";
  const std::vector<pid_t> kids = children_of(pid);
  REQUIRE(kids.size() == 1);
  kill(kids[0], SIGTERM);
  kill(pid, SIGTERM);
  const int code = wait_exit(pid);
  INFO(slurp(dir / "sweep.log"));
  INFO(slurp(run_dir / "train.out"));
  CHECK(code == 130);
  // The training's own stop path ran (a second signal would have made it quit at once, without this
  // line).
  CHECK(slurp(run_dir / "log.txt").find("stopped at epoch") != std::string::npos);
  CHECK(fs::exists(run_dir / "checkpoints/last.ckpt"));
}
