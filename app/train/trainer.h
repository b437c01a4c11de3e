#pragma once
// The training loop: epochs of shuffled batches, the algorithm's hooks around each step,
// evaluation on validation and test, and one metrics record per epoch.
#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "app/train/checkpoint.h"
#include "app/train/communicator.h"
#include "app/train/evaluate.h"
#include "app/train/train_config.h"
#include "engine/quant/algorithm.h"

namespace qt {

struct Batch;
class ShardGroup;

struct TrainProgress {
  int epoch = 0, epochs = 0;
  int64_t batch = 0, batches = 0;
  double loss = 0, accuracy = 0;  // running means over the epoch so far
  double images_per_second = 0;
  double elapsed_seconds = 0;  // since the epoch started
};

class Trainer {
 public:
  // `data` (and `comm`) must outlive the trainer. comm: the processes sharing this training
  // (null: this one alone); with more than one, or with cfg.shards > 1, each step runs the
  // global batch as shards (app/train/shard_group.h).
  Trainer(const TrainConfig& cfg, const DataSplits& data, Communicator* comm = nullptr);
  ~Trainer();

  // Runs (or continues) epochs until cfg.epochs; calls on_epoch after each with its record.
  // Returns false when `stop` was raised: the trainer then stands between two steps, and
  // snapshot() captures it exactly.
  bool run(const std::function<void(const nlohmann::json&)>& on_epoch,
           const std::function<void(const TrainProgress&)>& on_progress = {},
           const std::atomic<bool>* stop = nullptr);

  // Everything needed to continue exactly: weights, BatchNorm statistics, optimizer and
  // algorithm state, and the position (epoch, step, batch within the epoch, running sums).
  Checkpoint snapshot();
  // Checks that the checkpoint fits this model (names and shapes) before changing anything.
  void restore(const Checkpoint& c);
  // Weights and BatchNorm statistics only, from another run (`--init-from`): a fresh optimizer.
  void load_weights(const Checkpoint& c);

  // Where the messages about image files that did not decode go (each file once per session).
  void set_log(std::function<void(const std::string&)> log) { log_ = std::move(log); }

  int epoch() const { return epoch_; }
  int64_t step() const { return step_; }
  bool finished() const { return epoch_ >= cfg_.epochs; }
  Model& model() { return *model_; }
  Algorithm& algorithm() { return *algo_; }
  Optimizer& optimizer() { return *optimizer_; }
  const TrainConfig& config() const { return cfg_; }

 private:
  // One epoch from batch_ on; false when stopped part-way.
  bool run_epoch(nlohmann::json& record,
                 const std::function<void(const TrainProgress&)>& on_progress,
                 const std::atomic<bool>* stop);

  // One step on the batch as shards, of which `batch` holds this rank's rows; returns the mean
  // loss over the whole batch and sets `correct` to its hits. `problems` comes in as this rank's
  // image problems and leaves as the whole batch's, in sample order.
  float sharded_step(const Batch& batch, int64_t& correct, std::vector<ImageProblem>& problems);
  // The local shards' networks (beyond the first, model_) take model_'s used values, buffers
  // and activation quantizers' modes.
  void copy_to_replicas();
  // Logs the problems of files not reported before.
  void report(const std::vector<ImageProblem>& problems);

  TrainConfig cfg_;
  const DataSplits& data_;
  SingleProcess single_;
  Communicator* comm_;
  std::unique_ptr<ShardGroup> shards_;  // null: the batch runs whole
  std::vector<std::unique_ptr<Model>> replicas_;
  std::vector<Tensor> shard_x_, shard_dlogits_;
  std::vector<std::vector<int32_t>> shard_y_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Algorithm> algo_;
  std::unique_ptr<Optimizer> optimizer_;
  Tensor dlogits_;
  // The position, all of it in snapshot(): a variable here that is not saved breaks exact resume.
  int epoch_ = 0;
  int64_t step_ = 0;
  int64_t batch_ = 0;  // next batch within the epoch
  double loss_sum_ = 0;
  int64_t correct_ = 0, seen_ = 0;
  int64_t skipped_ = 0;       // training samples of this epoch whose file was replaced
  double train_seconds_ = 0;  // timing only, not part of the deterministic record
  std::function<void(const std::string&)> log_;
  std::set<std::string> reported_;  // messages only: a resumed run may report a file again
};

}  // namespace qt
