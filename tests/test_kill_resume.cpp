// `qtrain train` killed with SIGKILL at random moments and resumed with --resume ends with
// exactly the metrics of a run never killed; Ctrl-C (SIGINT) saves a checkpoint and exits 130.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <random>

#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

std::vector<std::string> train_args(const fs::path& out) {
  return {qtrain_bin(),   "train", "--model",       "mlp",  "--epochs",           "4",
          "--batch-size", "64",    "--limit-train", "3000", "--limit-test",       "300",
          "--lr",         "0.05",  "--seed",        "5",    "--checkpoint-every", "0.05",
          "--quiet",      "--out", out.string()};
}

// The inode of the run's last checkpoint (0 when there is none): every write is a new file.
ino_t checkpoint_id(const fs::path& run) {
  struct stat st {};
  return ::stat((run / "checkpoints/last.ckpt").c_str(), &st) == 0 ? st.st_ino : 0;
}

// The resumes of the run that continued from a checkpoint written inside an epoch.
int mid_epoch_resumes(const fs::path& run) {
  return static_cast<int>(count(slurp(run / "log.txt"), "\nresumed mid-epoch from "));
}

}  // namespace

TEST_CASE("kill -9 at random moments, resume, and get the uninterrupted metrics") {
  const fs::path root = scratch("kill");
  const Cleanup cleanup{root};
  const fs::path ref = root / "ref", run = root / "killed";
  const pid_t uninterrupted = spawn(train_args(ref));  // alongside: results do not depend on it

  // Each attempt is killed at a random moment after it has written its first checkpoint (every
  // 0.05 s, and at epoch ends), so every kill loses work that a checkpoint of that attempt
  // saved, and the next attempt resumes from it. Most checkpoints lie inside an epoch: the test
  // goes on until at least two resumes have continued from a mid-epoch checkpoint (log.txt
  // says so), not only from epoch ends.
  std::mt19937 gen(12345);
  std::uniform_real_distribution<double> delay_ms(0, 200);
  int kills = 0, attempts = 0;
  while ((kills < 3 || mid_epoch_resumes(run) < 2) && attempts++ < 40) {
    std::vector<std::string> args = train_args(run);
    // Resumes alternate the thread count: a run may continue on another machine.
    if (attempts > 1)
      args = {qtrain_bin(),
              "train",
              "--resume",
              run.string(),
              "--quiet",
              "--threads",
              attempts % 2 ? "1" : "2",
              "--checkpoint-every",
              "0.05"};
    const ino_t before = checkpoint_id(run);
    const pid_t pid = spawn(args);
    int status = 0;
    pid_t ended = 0;
    while (checkpoint_id(run) == before && (ended = waitpid(pid, &status, WNOHANG)) == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (ended == 0) {
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay_ms(gen)));
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    const int code = exit_code(status);
    if (code == 0) break;  // it finished before the kill
    REQUIRE(code == 128 + SIGKILL);
    ++kills;
  }
  // Finish whatever is left.
  REQUIRE(wait_exit(spawn({qtrain_bin(), "train", "--resume", run.string(), "--quiet"})) == 0);
  REQUIRE(wait_exit(uninterrupted) == 0);
  auto expected = metrics(ref);
  REQUIRE(expected.size() == 4);
  INFO("kills: " << kills << ", attempts: " << attempts << "\n" << slurp(run / "log.txt"));
  CHECK(kills >= 3);
  CHECK(mid_epoch_resumes(run) >= 2);
  auto got = metrics(run);
  REQUIRE(got.size() == expected.size());
  for (size_t e = 0; e < got.size(); ++e) CHECK(got[e] == expected[e]);
  json summary = read_json(run / "summary.json");
  CHECK(summary["finished"] == true);
  // Temporary files of writes that a kill cut short were removed by the next writes.
  for (auto& e : fs::recursive_directory_iterator(run))
    CHECK_MESSAGE(e.path().filename().string().find(".tmp.") == std::string::npos, e.path());
  // --threads on --resume is honoured and recorded; other flags are refused.
  REQUIRE(wait_exit(spawn({qtrain_bin(), "train", "--resume", run.string(), "--quiet", "--threads",
                           "1"})) == 0);
  CHECK(read_json(run / "config.json")["threads"] == 1);
  CHECK(metrics(run) == expected);
  CHECK(wait_exit(spawn(
            {qtrain_bin(), "train", "--resume", run.string(), "--quiet", "--lr", "0.1"})) == 2);
}

TEST_CASE("SIGINT saves a checkpoint and exits 130; --resume finishes the run") {
  const fs::path root = scratch("int");
  const Cleanup cleanup{root};
  const fs::path run = root / "run";
  std::vector<std::string> args = train_args(run);
  args[5] = "30";  // long enough to be interrupted
  pid_t pid = spawn(args);
  // Wait until it is training (its config.json exists), then interrupt.
  for (int i = 0; i < 200 && !fs::exists(run / "config.json"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGINT);
  CHECK(wait_exit(pid) == 130);
  CHECK(fs::exists(run / "checkpoints/last.ckpt"));
  json summary = read_json(run / "summary.json");
  CHECK(summary["finished"] == false);
  // A second start without --resume refuses to overwrite the run.
  CHECK(wait_exit(spawn(args)) == 2);
}

TEST_CASE("a full disk during a checkpoint write keeps the previous checkpoint and exits 1") {
  const fs::path root = scratch("full");
  const Cleanup cleanup{root};
  const fs::path run = root / "run", ckpt = run / "checkpoints/last.ckpt";
  std::vector<std::string> args = train_args(run);
  args[5] = "30";  // long enough to be interrupted
  const pid_t pid = spawn(args);
  for (int i = 0; i < 2000 && !fs::exists(ckpt); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGINT);
  REQUIRE(wait_exit(pid) == 130);
  const std::string previous = slurp(ckpt);
  REQUIRE(previous.size() > 200000);  // far above every other file of the run

  // The resumed run may write files of at most half a checkpoint (RLIMIT_FSIZE, inherited through
  // exec; qtrain ignores SIGXFSZ, so the write fails with EFBIG as on a full disk).
  const fs::path log = root / "out.txt";
  const pid_t limited = fork();
  if (limited == 0) {
    rlimit lim{previous.size() / 2, previous.size() / 2};
    setrlimit(RLIMIT_FSIZE, &lim);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execl(qtrain_bin().c_str(), "qtrain", "train", "--resume", run.c_str(), "--quiet",
          "--checkpoint-every", "0.05", nullptr);
    _exit(127);
  }
  CHECK(wait_exit(limited) == 1);
  const std::string out = slurp(log);
  INFO(out);
  CHECK(out.find("qtrain: error: cannot write " + ckpt.string() + ": File too large") !=
        std::string::npos);
  CHECK(count(out, "\n") == 1);
  CHECK(slurp(ckpt) == previous);
  std::vector<std::string> left;
  for (auto& e : fs::directory_iterator(run / "checkpoints"))
    left.push_back(e.path().filename().string());
  CHECK(left == std::vector<std::string>{"last.ckpt"});  // no temporary file left behind
  // The previous checkpoint loads: evaluated, and resumed.
  CHECK(wait_exit(spawn({qtrain_bin(), "eval", run.string()})) == 0);
  const pid_t resumed =
      spawn({qtrain_bin(), "train", "--resume", run.string(), "--quiet"}, root / "resumed.txt");
  for (int i = 0; i < 2000 && count(slurp(run / "log.txt"), "\nresumed") < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(resumed, SIGINT);
  CHECK(wait_exit(resumed) == 130);
  CHECK(count(slurp(run / "log.txt"), "\nresumed") == 2);
}
