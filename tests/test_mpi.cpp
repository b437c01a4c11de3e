// `mpirun -n N qtrain train` with real OpenMPI: 2 and 3 processes (oversubscribed on a small
// machine) give the metrics of one process with the same --shards, bit for bit, for every
// algorithm on MLP-BN, LeNet-5-BN and a few steps of ResNet-20; a rank killed with SIGKILL ends
// the others within a bounded time (mpirun ends them), a rank that stops answering is named by
// the others after --mpi-timeout, and --resume under another process count finishes with the
// metrics of a run never killed; a bad launch is refused with one message. Built only when
// cmake found MPI (tests/CMakeLists.txt); tools/test installs it.
#include <dirent.h>
#include <signal.h>

#include "datasets/jpeg_decode.h"
#include "test_jpeg_folder.h"
#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

// OpenMPI refuses root without these (CI runs as root) and more processes than cores without
// --oversubscribe.
const std::map<std::string, std::string> kMpiEnv = {{"OMPI_ALLOW_RUN_AS_ROOT", "1"},
                                                    {"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"}};

std::vector<std::string> mpirun(int n, const std::vector<std::string>& args) {
  std::vector<std::string> a = {env("QTRAIN_MPIEXEC"), "--oversubscribe", "-n", std::to_string(n)};
  a.insert(a.end(), args.begin(), args.end());
  return a;
}

// The epoch records without their timing (the only part that may differ).
std::vector<json> records(const fs::path& run) {
  std::vector<json> r = metrics(run);
  for (json& e : r) e.erase("timing");
  return r;
}

std::vector<std::string> train(const std::string& model, const std::string& algo,
                               const fs::path& out) {
  std::vector<std::string> a = {qtrain_bin(), "train",     "--model",   model,      "--algo",
                                algo,         "--dataset", "synthetic", "--shards", "6",
                                "--threads",  "1",         "--quiet",   "--out",    out.string()};
  // 100 training images in batches of 36: two whole batches and a last one of 28, which the
  // shards split unevenly (4 or 5 images each); two epochs, so that BCGD's α is first calibrated
  // and then learned, and the iterative algorithm binarizes a layer at the epoch boundary.
  std::vector<std::string> small = {"--synthetic-size", "120,20", "--val-size", "20",
                                    "--batch-size",     "36",     "--epochs",   "2"};
  // ResNet-20 on 32×32 colour images: one epoch of two steps (18 and 12 images).
  std::vector<std::string> resnet = {"--synthetic-shape", "3,32,32", "--synthetic-size", "30,12",
                                     "--val-size",        "0",       "--batch-size",     "18",
                                     "--epochs",          "1"};
  const auto& extra = model == "resnet20" ? resnet : small;
  a.insert(a.end(), extra.begin(), extra.end());
  // BCGD with its first epoch calibrating α from the batch (a max over the shards), then learning
  // it (a gradient over the shards).
  if (algo == "bcgd") a.insert(a.end(), {"--alpha-stage", "1"});
  return a;
}

// One process, then each of `ns` processes, with the same 6 shards: the same metrics.
void same_as_one_process(const std::string& model, const std::string& algo,
                         const std::vector<int>& ns) {
  CAPTURE(model);
  CAPTURE(algo);
  const fs::path root = scratch("mpi-" + model + "-" + algo);
  const Cleanup cleanup{root};
  Result one = run(train(model, algo, root / "1"));
  REQUIRE_MESSAGE(one.code == 0, one.output);
  const std::vector<json> expected = records(root / "1");
  REQUIRE(expected.size() == (model == "resnet20" ? 1u : 2u));
  for (int n : ns) {
    CAPTURE(n);
    const fs::path out = root / std::to_string(n);
    Result r = run(mpirun(n, train(model, algo, out)), {}, kMpiEnv);
    REQUIRE_MESSAGE(r.code == 0, r.output);
    CHECK(records(out) == expected);
    // Only rank 0 wrote: one log with one header.
    CHECK(count(slurp(out / "log.txt"), "training " + model) == 1);
    CHECK(slurp(out / "log.txt").find("MPI: " + std::to_string(n) + " processes, 6 shards") !=
          std::string::npos);
  }
}

// The processes whose parent is `pid` (mpirun's ranks).
std::vector<pid_t> children(pid_t pid) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  while (dirent* e = d ? readdir(d) : nullptr) {
    const pid_t p = std::atoi(e->d_name);
    if (p <= 0) continue;
    std::ifstream in("/proc/" + std::to_string(p) + "/stat");
    std::string stat;
    std::getline(in, stat);
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) out.push_back(p);
  }
  if (d) closedir(d);
  return out;
}

// The two ranks `launcher` (mpirun) started, once run directory `run` holds a mid-epoch
// checkpoint (waiting up to 30 s): the run is training.
std::vector<pid_t> two_ranks_training(pid_t launcher, const fs::path& run) {
  for (int i = 0; i < 6000 && !fs::exists(run / "checkpoints/last.ckpt"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(fs::exists(run / "checkpoints/last.ckpt"));
  std::vector<pid_t> ranks = children(launcher);
  REQUIRE(ranks.size() == 2);
  return ranks;
}

// Running (a zombie, dead but not yet reaped by init, is not): waits up to 10 s for it to end.
bool alive(pid_t p) {
  for (int i = 0; i < 100; ++i) {
    std::ifstream in("/proc/" + std::to_string(p) + "/stat");
    std::string stat;
    if (!std::getline(in, stat)) return false;
    const size_t close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z')
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

}  // namespace

// A covering design rather than every model × algorithm × N (each run costs seconds, most of it
// starting processes): every algorithm once, every model on both N = 2 and N = 3. The algorithms
// differ in what crosses shards (float and the iterative one: sums of gradients and BatchNorm
// statistics; BinaryRelax and ProxyBNN: their scales from the summed gradients; BCGD: α's
// calibration max and its gradient), the models in the layers whose statistics are gathered.
TEST_CASE("MLP-BN: float, BinaryRelax, iterative on 2 or 3 processes give one process's metrics") {
  same_as_one_process("mlp-bn", "float", {3});
  same_as_one_process("mlp-bn", "binaryrelax", {2});
  same_as_one_process("mlp-bn", "iterative", {3});
}

TEST_CASE("LeNet-5-BN: BCGD on 2 and 3 processes gives one process's metrics") {
  same_as_one_process("lenet5-bn", "bcgd", {2, 3});
}

TEST_CASE("ResNet-20, a few steps: ProxyBNN on 2 and 3 processes gives one process's metrics") {
  same_as_one_process("resnet20", "proxybnn", {2, 3});
}

// A JPEG folder on 2 processes: each rank decodes only its shard's rows of each training batch and
// only its evaluation batches, and yet the metrics (skipped files included) are one process's and
// each broken file is logged once, though most are met by rank 1 alone.
TEST_CASE("imagenet-folder on 2 processes: each rank reads its rows; one process's metrics") {
  if (!qt::jpeg_available()) return;
  const fs::path root = scratch("mpi-jpeg");
  const Cleanup cleanup{root};
  using qt::testing::test_image;
  using qt::testing::write_jpeg;
  auto bad_image_lines = [](const std::string& log) {  // in order
    std::vector<std::string> out;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);)
      if (line.find("bad image: ") != std::string::npos)
        out.push_back(line.substr(line.find("bad image: ")));
    return out;
  };
  // Tiny files: 11 training images (3 broken), 7 test images (1 broken, in rank 1's batch).
  for (const char* split : {"train", "val"})
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < (split[0] == 't' ? 4 : 3); ++i)
        write_jpeg(
            root / "data" / split / (c ? "red" : "blue") / (std::to_string(i) + ".JPEG"),
            test_image(24 + 4 * i, 20 + 3 * i,
                       c ? std::vector<uint8_t>{220, 30, 30} : std::vector<uint8_t>{20, 40, 220},
                       i % 2 == 1));
  for (const char* bad : {"train/blue/x_bad.JPEG", "train/red/x_bad.JPEG", "train/red/y_bad.JPEG",
                          "val/red/x_bad.JPEG"})
    qt::write_bytes((root / "data" / bad).string(), std::vector<uint8_t>{'n', 'o'});
  auto args = [&](const fs::path& out) {
    return std::vector<std::string>{qtrain_bin(),        "train",
                                    "--model",           "mlp-bn",
                                    "--dataset",         "imagenet-folder",
                                    "--data-dir",        (root / "data").string(),
                                    "--image-size",      "16",
                                    "--epochs",          "2",
                                    "--batch-size",      "6",
                                    "--shards",          "2",
                                    "--eval-batch-size", "4",
                                    "--threads",         "1",
                                    "--quiet",           "--out",
                                    out.string()};
  };
  Result one = run(args(root / "1"));
  REQUIRE_MESSAGE(one.code == 0, one.output);
  const std::vector<json> expected = records(root / "1");
  REQUIRE(expected.size() == 2);
  CHECK(expected[0]["data"]["skipped_images"] == 3);
  CHECK(expected[0]["data"]["eval_skipped_images"] == 1);
  Result two = run(mpirun(2, args(root / "2")), {}, kMpiEnv);
  REQUIRE_MESSAGE(two.code == 0, two.output);
  CHECK(records(root / "2") == expected);
  const std::string log = slurp(root / "2" / "log.txt");
  CHECK(count(log, "bad image: ") == 4);
  CHECK(count(log, "val/red/x_bad.JPEG: not a JPEG") == 1);
  CHECK(bad_image_lines(log) == bad_image_lines(slurp(root / "1" / "log.txt")));
  // Rank 0 read 3 of the first batch (6) and 2 of the last (5): 5 images in 2 steps.
  std::ifstream in(root / "2" / "metrics.jsonl");
  int epochs = 0;
  for (std::string line; std::getline(in, line); ++epochs)
    CHECK(json::parse(line)["timing"]["images_prepared_per_step"] == 2.5);
  CHECK(epochs == 2);
}

TEST_CASE("kill -9 of one rank ends the others; --resume on 3 processes finishes identically") {
  const fs::path root = scratch("mpi-kill");
  const Cleanup cleanup{root};
  const fs::path ref = root / "ref", killed = root / "run", log = root / "mpirun.txt";
  auto args = [](const fs::path& out) {
    return std::vector<std::string>{qtrain_bin(),
                                    "train",
                                    "--model",
                                    "mlp-bn",
                                    "--algo",
                                    "bcgd",
                                    "--epochs",
                                    "2",
                                    "--dataset",
                                    "synthetic",
                                    "--synthetic-size",
                                    "500,50",
                                    "--val-size",
                                    "50",
                                    "--batch-size",
                                    "30",
                                    "--shards",
                                    "6",
                                    "--threads",
                                    "1",
                                    "--checkpoint-every",
                                    "0.05",
                                    "--quiet",
                                    "--out",
                                    out.string()};
  };
  const pid_t uninterrupted = spawn(args(ref));  // one process, alongside

  const pid_t launcher = spawn(mpirun(2, args(killed)), log, {}, kMpiEnv);
  std::vector<pid_t> ranks = two_ranks_training(launcher, killed);
  kill(ranks.back(), SIGKILL);
  // Bounded: the survivors (and mpirun) must end, never hang; 60 s is far above the seconds it
  // takes, so only a hang fails here.
  int status = 0;
  pid_t ended = 0;
  for (int i = 0; i < 600 && (ended = waitpid(launcher, &status, WNOHANG)) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (ended == 0) {
    for (pid_t p : ranks) kill(p, SIGKILL);
    kill(launcher, SIGKILL);
    waitpid(launcher, &status, 0);
  }
  const std::string said = slurp(log);
  INFO(said);
  REQUIRE(ended == launcher);
  CHECK(exit_code(status) != 0);
  for (pid_t p : ranks) CHECK(!alive(p));  // no rank left behind
  // The message names the rank that died.
  CHECK(said.find("rank 1") != std::string::npos);
  CHECK(said.find("signal 9") != std::string::npos);

  Result resumed =
      run(mpirun(3, {qtrain_bin(), "train", "--resume", killed.string(), "--quiet"}), {}, kMpiEnv);
  REQUIRE_MESSAGE(resumed.code == 0, resumed.output);
  REQUIRE(wait_exit(uninterrupted) == 0);
  const std::vector<json> expected = records(ref);
  REQUIRE(expected.size() == 2);
  CHECK(records(killed) == expected);
  CHECK(count(slurp(killed / "log.txt"), "\nresumed ") == 1);
}

TEST_CASE("a rank that stops answering is named after --mpi-timeout, and every rank ends") {
  const fs::path root = scratch("mpi-stopped");
  const Cleanup cleanup{root};
  const fs::path out = root / "run", log = root / "mpirun.txt";
  const pid_t launcher = spawn(
      mpirun(
          2,
          {qtrain_bin(),         "train",     "--model",          "mlp-bn", "--epochs",   "3",
           "--dataset",          "synthetic", "--synthetic-size", "500,50", "--val-size", "50",
           "--batch-size",       "30",        "--shards",         "2",      "--threads",  "1",
           "--checkpoint-every", "0.05",      "--mpi-timeout",    "3",      "--quiet",    "--out",
           out.string()}),
      log, {}, kMpiEnv);
  std::vector<pid_t> ranks = two_ranks_training(launcher, out);
  // Stopped, not dead: mpirun sees nothing wrong, only the other rank can notice.
  kill(ranks.back(), SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  pid_t ended = 0;
  for (int i = 0; i < 600 && (ended = waitpid(launcher, &status, WNOHANG)) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (ended == 0) kill(launcher, SIGKILL);
  for (pid_t p : ranks) kill(p, SIGKILL);  // no-ops when mpirun ended them
  if (ended == 0) waitpid(launcher, &status, 0);
  const std::string said = slurp(log);
  INFO(said);
  REQUIRE(ended == launcher);
  CHECK(exit_code(status) != 0);
  CHECK(said.find("qtrain: error on MPI rank 0 of 2: rank 1 did not answer within 3 s") !=
        std::string::npos);
  // 3 s of waiting, plus the step in progress and mpirun ending the ranks.
  CHECK(seconds < 30);
}

TEST_CASE("a bad launch is refused before training, with one message") {
  const fs::path root = scratch("mpi-bad");
  const Cleanup cleanup{root};
  auto args = [&](const std::string& lr, const std::string& shards) {
    return std::vector<std::string>{qtrain_bin(),
                                    "train",
                                    "--model",
                                    "mlp",
                                    "--dataset",
                                    "synthetic",
                                    "--synthetic-size",
                                    "200,50",
                                    "--epochs",
                                    "1",
                                    "--batch-size",
                                    "30",
                                    "--lr",
                                    lr,
                                    "--shards",
                                    shards,
                                    "--threads",
                                    "1",
                                    "--quiet",
                                    "--out",
                                    (root / "run").string()};
  };
  // Two ranks with different configurations (MPMD: one command line per rank).
  std::vector<std::string> two = {env("QTRAIN_MPIEXEC"), "--oversubscribe", "-n", "1"};
  for (const std::string& a : args("0.01", "2")) two.push_back(a);
  two.insert(two.end(), {":", "-n", "1"});
  for (const std::string& a : args("0.02", "2")) two.push_back(a);
  Result r = run(two, {}, kMpiEnv);
  CHECK(r.code != 0);
  CHECK(count(r.output, "qtrain: error:") == 1);
  CHECK(r.output.find("different configurations") != std::string::npos);
  // Shards that 3 processes cannot share, and a batch the shards do not divide.
  r = run(mpirun(3, args("0.01", "2")), {}, kMpiEnv);
  CHECK(r.code != 0);
  CHECK(count(r.output, "qtrain: error:") == 1);
  CHECK(r.output.find("--shards 2 cannot be shared by 3 processes") != std::string::npos);
  r = run(mpirun(2, args("0.01", "4")), {}, kMpiEnv);
  CHECK(r.code != 0);
  CHECK(count(r.output, "qtrain: error:") == 1);
  CHECK(r.output.find("--batch-size 30 is not divisible by --shards 4") != std::string::npos);
  // Nothing was trained or written.
  CHECK(!fs::exists(root / "run" / "checkpoints"));
}
