// `qtrain train` killed with SIGKILL at random moments and resumed with --resume ends with
// exactly the metrics of a run never killed; Ctrl-C (SIGINT) saves a checkpoint and exits 130.
#include <signal.h>

#include <random>

#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

std::vector<std::string> train_args(const fs::path& out) {
  return {qtrain_bin(),   "train", "--model",       "mlp",  "--epochs",           "4",
          "--batch-size", "64",    "--limit-train", "3000", "--limit-test",       "300",
          "--lr",         "0.05",  "--seed",        "5",    "--checkpoint-every", "0.3",
          "--quiet",      "--out", out.string()};
}

}  // namespace

TEST_CASE("kill -9 at random moments, resume, and get the uninterrupted metrics") {
  const fs::path root = scratch("kill");
  const Cleanup cleanup{root};
  const fs::path ref = root / "ref", run = root / "killed";
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(wait_exit(spawn(train_args(ref))) == 0);
  const double full_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  auto expected = metrics(ref);
  REQUIRE(expected.size() == 4);

  // Kill moments are fractions of the uninterrupted run's duration, so the test kills mid-run on
  // a fast machine as well as on a slow one: each attempt keeps at most 35 % of the work, so the
  // first two kills always land before the run can finish.
  std::mt19937 gen(12345);
  std::uniform_real_distribution<double> fraction(0.1, 0.35);
  int kills = 0, attempts = 0;
  bool started = false;
  while (kills < 3 && attempts++ < 40) {
    std::vector<std::string> args = train_args(run);
    // Resumes alternate the thread count: a run may continue on another machine.
    if (started && fs::exists(run / "checkpoints/last.ckpt"))
      args = {qtrain_bin(),
              "train",
              "--resume",
              run.string(),
              "--quiet",
              "--threads",
              attempts % 2 ? "1" : "2"};
    pid_t pid = spawn(args);
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(fraction(gen) * full_ms));
    kill(pid, SIGKILL);
    int code = wait_exit(pid);
    started = true;
    if (code == 0) break;  // it finished before the kill
    if (code == 128 + SIGKILL) ++kills;
    // A run killed before its first checkpoint starts again from scratch: its directory may hold
    // config.json only, which a fresh start overwrites.
    if (!fs::exists(run / "checkpoints/last.ckpt")) fs::remove_all(run);
  }
  // Finish whatever is left.
  int code = fs::exists(run / "checkpoints/last.ckpt")
                 ? wait_exit(spawn({qtrain_bin(), "train", "--resume", run.string(), "--quiet"}))
                 : wait_exit(spawn(train_args(run)));
  REQUIRE(code == 0);
  INFO("kills: " << kills);
  CHECK(kills >= 2);
  auto got = metrics(run);
  REQUIRE(got.size() == expected.size());
  for (size_t e = 0; e < got.size(); ++e) CHECK(got[e] == expected[e]);
  json summary = read_json(run / "summary.json");
  CHECK(summary["finished"] == true);
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
