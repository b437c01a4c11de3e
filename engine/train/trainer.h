#pragma once
// The training loop: epochs of shuffled batches, the algorithm's hooks around each step,
// evaluation on validation and test, and one metrics record per epoch.
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "engine/quant/algorithm.h"
#include "engine/train/train_config.h"

namespace qt {

struct EvalResult {
  double loss = 0;
  double accuracy = 0;
  int64_t samples = 0;
};

// Loss and accuracy of `model` on `data` in evaluation mode, with the algorithm's evaluated weights.
EvalResult evaluate(Model& model, Algorithm& algo, const Dataset& data, const Normalization& norm,
                    int64_t batch_size);

struct TrainProgress {
  int epoch = 0, epochs = 0;
  int64_t batch = 0, batches = 0;
  double loss = 0, accuracy = 0;  // running means over the epoch so far
  double images_per_second = 0;
  double elapsed_seconds = 0;  // since the epoch started
};

class Trainer {
 public:
  // `data` must outlive the trainer.
  Trainer(const TrainConfig& cfg, const DataSplits& data);
  ~Trainer();

  // Runs epochs [epoch(), cfg.epochs); calls on_epoch after each with its record.
  void run(const std::function<void(const nlohmann::json&)>& on_epoch,
           const std::function<void(const TrainProgress&)>& on_progress = {});
  // One epoch; returns its metrics record (deterministic fields, plus "timing").
  nlohmann::json run_epoch(const std::function<void(const TrainProgress&)>& on_progress = {});

  int epoch() const { return epoch_; }
  Model& model() { return *model_; }
  Algorithm& algorithm() { return *algo_; }
  Optimizer& optimizer() { return *optimizer_; }
  const TrainConfig& config() const { return cfg_; }

 private:
  TrainConfig cfg_;
  const DataSplits& data_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Algorithm> algo_;
  std::unique_ptr<Optimizer> optimizer_;
  int epoch_ = 0;
  int64_t step_ = 0;
  Tensor dlogits_;
};

}  // namespace qt
