// The training loop on real Fashion-MNIST: it can overfit a small set, and it is deterministic.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/config.h"
#include "app/run_training.h"
#include "engine/core/parallel.h"
#include "engine/train/trainer.h"

using namespace qt;
using json = nlohmann::json;

namespace {

TrainConfig small_config(const std::string& model, int epochs) {
  TrainConfig c;
  c.model = model;
  c.data.name = "fashion-mnist";
  c.data.val_size = 0;
  c.data.limit_train = 256;
  c.data.limit_test = 500;
  c.epochs = epochs;
  c.batch_size = 32;
  c.lr = 1e-3f;
  c.optimizer.name = "adam";
  c.seed = 7;
  return c;
}

std::vector<json> run(const TrainConfig& cfg, int threads) {
  set_threads(threads);
  DataSplits data = load_splits(cfg.data);
  Trainer t(cfg, data);
  std::vector<json> recs;
  t.run([&](const json& r) {
    json d = r;
    d.erase("timing");  // the only non-deterministic field
    recs.push_back(d);
  });
  return recs;
}

}  // namespace

TEST_CASE("LeNet-5 overfits 256 Fashion-MNIST images to near-zero loss") {
  // Adam 3e-3 with a cosine decay: a constant rate keeps the loss bouncing (PyTorch too).
  TrainConfig cfg = small_config("lenet5", 60);
  cfg.lr = 3e-3f;
  cfg.schedule.name = "cosine";
  auto recs = run(cfg, 0);
  const json& last = recs.back();
  INFO("last epoch: " << last.dump());
  CHECK(last["train_loss"].get<double>() < 0.02);
  CHECK(last["train_acc"].get<double>() == 1.0);
  CHECK(recs.front()["train_loss"].get<double>() > 1.0);
}

TEST_CASE("same config and seed give identical metrics; so do 1 and 2 threads") {
  TrainConfig cfg = small_config("lenet5", 2);
  cfg.optimizer = {};  // SGD with momentum
  cfg.lr = 0.05f;
  auto a = run(cfg, 2);
  auto b = run(cfg, 2);
  auto c = run(cfg, 1);
  REQUIRE(a.size() == 2);
  CHECK(a == b);
  CHECK(a == c);
  cfg.seed = 8;
  auto d = run(cfg, 2);
  CHECK(a != d);
}

TEST_CASE("a quantization method's best epoch is chosen among fully quantized epochs only") {
  // BinaryRelax evaluates the relaxed u in phase I: those epochs are not the method's result.
  json cfg = default_config();
  cfg["model"] = "mlp";
  cfg["data"]["name"] = "synthetic";
  cfg["data"]["limit_train"] = 512;
  cfg["data"]["val_size"] = 128;
  cfg["epochs"] = 4;
  cfg["algo"]["name"] = "binaryrelax";
  cfg["algo"]["phase2_epoch"] = 3;
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("qtrain-best-" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove_all(dir);
  RunOptions opt;
  opt.out = dir;
  opt.quiet = true;
  RunResult r = run_training(cfg, opt);
  REQUIRE(r.finished);
  std::ifstream in(dir + "/metrics.jsonl");
  std::vector<bool> fully;
  for (std::string line; std::getline(in, line);)
    fully.push_back(json::parse(line)["algorithm"]["fully_quantized"].get<bool>());
  CHECK(fully == std::vector<bool>{false, false, false, true});
  CHECK(r.summary["best"]["epoch"] == 4);
  CHECK(r.summary["best"]["fully_quantized"] == true);
  std::filesystem::remove_all(dir);
}
