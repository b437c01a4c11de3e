// The training loop on real Fashion-MNIST: it can overfit a small set, and it is deterministic.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "app/config/config.h"
#include "app/run/best_epoch.h"
#include "app/run/run_training.h"
#include "app/train/trainer.h"
#include "engine/core/parallel.h"

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
  cfg["data"]["synthetic"]["noise"] = 0.75;
  cfg["epochs"] = 7;
  cfg["lr"] = 0.2;
  cfg["algo"]["name"] = "binaryrelax";
  cfg["algo"]["lambda0"] = 1.0;
  cfg["algo"]["lambda_growth"] = 1.04;
  cfg["algo"]["phase2_epoch"] = 2;
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
  std::vector<json> recs;
  std::vector<bool> fully;
  for (std::string line; std::getline(in, line);) {
    recs.push_back(json::parse(line));
    fully.push_back(recs.back()["algorithm"]["fully_quantized"].get<bool>());
  }
  REQUIRE(fully == std::vector<bool>{false, false, true, true, true, true, true});
  // The reference, by hand: the highest val_acc of epochs 3…7 (the first on a tie), and the
  // highest test_acc of those epochs.
  size_t best = 2;
  double max_test = 0;
  for (size_t i = 2; i < recs.size(); ++i) {
    if (recs[i]["val_acc"].get<double>() > recs[best]["val_acc"].get<double>()) best = i;
    max_test = std::max(max_test, recs[i]["test_acc"].get<double>());
  }
  CHECK(r.summary["best"]["epoch"] == best + 1);
  CHECK(r.summary["best"]["selected_by"] == "val_acc");
  CHECK(r.summary["best"]["fully_quantized"] == true);
  CHECK(r.summary["best"]["val_acc"] == recs[best]["val_acc"]);
  CHECK(r.summary["best"]["test_acc"] == recs[best]["test_acc"]);
  CHECK(r.summary["max_test_acc"].get<double>() == max_test);
  // Several eligible epochs with different accuracies: picking the wrong one shows.
  std::set<double> vals;
  for (size_t i = 2; i < recs.size(); ++i) vals.insert(recs[i]["val_acc"].get<double>());
  CHECK(vals.size() > 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("best_epoch: validation accuracy among fully quantized epochs; max test among them") {
  auto rec = [](int epoch, bool fully, double val, double test) {
    json r = {{"epoch", epoch},
              {"test_acc", test},
              {"test_loss", 1.0},
              {"algorithm", {{"fully_quantized", fully}}}};
    if (val >= 0) r["val_acc"] = val;
    return r;
  };
  // Epoch 1 (relaxed) has the highest val and test accuracy of all: it must not count.
  std::vector<json> recs = {rec(1, false, 0.95, 0.97), rec(2, true, 0.50, 0.60),
                            rec(3, true, 0.70, 0.65), rec(4, true, 0.70, 0.80),
                            rec(5, true, 0.60, 0.90)};
  BestEpoch b = best_epoch(recs);
  REQUIRE(b.index);
  CHECK(*b.index == 2);  // epoch 3: the first of the two best validation accuracies
  CHECK(b.selected_by == "val_acc");
  CHECK(b.fully_quantized);
  REQUIRE(b.max_test);
  CHECK(*b.max_test == 0.90);  // epoch 5, not epoch 1's 0.97
  json sum = run_summary(recs, 1.0, true);
  CHECK(sum["best"]["epoch"] == 3);
  CHECK(sum["best"]["test_acc"] == 0.65);
  CHECK(sum["best"]["val_acc"] == 0.70);
  CHECK(sum["max_test_acc"] == 0.90);
  CHECK(sum["final"]["test_acc"] == 0.90);
  // A float run: no algorithm record, every epoch counts.
  std::vector<json> plain = {{{"epoch", 1}, {"val_acc", 0.8}, {"test_acc", 0.7}},
                             {{"epoch", 2}, {"val_acc", 0.7}, {"test_acc", 0.9}}};
  b = best_epoch(plain);
  CHECK(*b.index == 0);
  CHECK(*b.max_test == 0.9);
  // Without a validation split the best test accuracy selects, still among quantized epochs.
  for (json& r : recs) r.erase("val_acc");
  b = best_epoch(recs);
  CHECK(b.selected_by == "test_acc");
  CHECK(*b.index == 4);
  // No fully quantized epoch (a run stopped in phase I): the best of all, flagged; no max test.
  std::vector<json> relaxed = {rec(1, false, 0.4, 0.5), rec(2, false, 0.6, 0.55),
                               rec(3, false, 0.5, 0.7)};
  b = best_epoch(relaxed);
  CHECK(*b.index == 1);
  CHECK_FALSE(b.fully_quantized);
  CHECK_FALSE(b.max_test);
  sum = run_summary(relaxed, 1.0, false);
  CHECK(sum["best"]["epoch"] == 2);
  CHECK(sum["best"]["fully_quantized"] == false);
  CHECK(sum["max_test_acc"].is_null());
  // A NaN accuracy written as null is skipped, not compared.
  std::vector<json> with_null = {rec(1, true, 0.4, 0.5), rec(2, true, 0.3, 0.6)};
  with_null[0]["val_acc"] = nullptr;
  with_null[1]["test_acc"] = nullptr;
  b = best_epoch(with_null);
  CHECK(*b.index == 1);
  CHECK(*b.max_test == 0.5);
  CHECK_FALSE(best_epoch({}).index);
}
