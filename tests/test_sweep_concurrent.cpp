// Two `qtrain sweep` on the same folder at once: every run trains in exactly one of them, every
// run finishes, and a process that found runs busy (held by the other) exits 4, not 0.
#include <sys/file.h>

#include <set>

#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

const char* kSweep = R"({
  "name": "twice",
  "base": {"model": "mlp", "epochs": 2, "batch_size": 32,
           "data": {"name": "synthetic", "limit_train": 1024, "limit_test": 100}},
  "grid": {"lr": [0.02, 0.05, 0.1, 0.2]},
  "out": "out"
})";

const std::vector<std::string> kRuns = {"lr=0.02", "lr=0.05", "lr=0.1", "lr=0.2"};

// The runs a sweep's output says it finished.
std::set<std::string> finished_by(const std::string& output) {
  std::set<std::string> names;
  for (const std::string& r : kRuns)
    if (output.find("] finished " + r + ":") != std::string::npos) names.insert(r);
  return names;
}

}  // namespace

TEST_CASE("a run held by another sweep process is skipped as busy: exit 4; the next run ends it") {
  const fs::path dir = scratch("sweep-busy");
  const Cleanup cleanup{dir};
  write(dir / "s.json", kSweep);
  // This test holds run lr=0.05's lock, as a sweep running it would.
  fs::create_directories(dir / "out/lr=0.05");
  const int fd = open((dir / "out/lr=0.05/.sweep.lock").c_str(), O_RDWR | O_CREAT, 0644);
  REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);
  Result busy = run({qtrain_bin(), "sweep", "s.json", "--threads", "1"}, dir);
  INFO(busy.output);
  CHECK(busy.code == 4);
  CHECK(busy.output.find("busy     lr=0.05 (another sweep process is running it)") !=
        std::string::npos);
  CHECK(busy.output.find("qtrain: error: 1 run skipped: another sweep process was running it") !=
        std::string::npos);
  CHECK(finished_by(busy.output) == std::set<std::string>{"lr=0.02", "lr=0.1", "lr=0.2"});
  CHECK_FALSE(fs::exists(dir / "out/lr=0.05/config.json"));  // not touched
  close(fd);
  Result again = run({qtrain_bin(), "sweep", "s.json", "--threads", "1"}, dir);
  INFO(again.output);
  CHECK(again.code == 0);
  CHECK(again.output.find("3 finished before, 1 to run") != std::string::npos);
}

TEST_CASE("two sweeps started at once on the same folder train every run exactly once") {
  const fs::path dir = scratch("sweep-twice");
  const Cleanup cleanup{dir};
  write(dir / "s.json", kSweep);
  const std::vector<std::string> args = {qtrain_bin(), "sweep", "s.json", "--threads", "1"};
  const pid_t a = spawn(args, dir / "a.txt", dir), b = spawn(args, dir / "b.txt", dir);
  const int code_a = wait_exit(a), code_b = wait_exit(b);
  const std::string out_a = slurp(dir / "a.txt"), out_b = slurp(dir / "b.txt");
  INFO("first (exit " << code_a << "):\n"
                      << out_a << "\nsecond (exit " << code_b << "):\n"
                      << out_b);
  // Each process exits 0 when it met no busy run, else 4.
  const bool busy_a = out_a.find("busy     ") != std::string::npos,
             busy_b = out_b.find("busy     ") != std::string::npos;
  CHECK(code_a == (busy_a ? 4 : 0));
  CHECK(code_b == (busy_b ? 4 : 0));
  CHECK((busy_a || busy_b));  // started together, they meet on the first run
  // Every run finished, by one process, and trained once: one start in its train.out, one
  // "training" and no "resuming" in its log.txt.
  const std::set<std::string> fa = finished_by(out_a), fb = finished_by(out_b);
  std::set<std::string> all = fa;
  all.insert(fb.begin(), fb.end());
  CHECK(all.size() == kRuns.size());
  CHECK(fa.size() + fb.size() == kRuns.size());
  for (const std::string& r : kRuns) {
    INFO(r);
    const fs::path run = dir / "out" / r;
    CHECK(read_json(run / "summary.json")["finished"] == true);
    CHECK(count(slurp(run / "train.out"), "== qtrain sweep: ") == 1);
    const std::string log = slurp(run / "log.txt");
    CHECK(count(log, "training mlp") == 1);
    CHECK(count(log, "resuming") == 0);
  }
  CHECK(read_json(dir / "out/sweep.json")["counts"]["finished"] == 4);
}
