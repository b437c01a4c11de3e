#include "engine/train/trainer.h"

#include <chrono>
#include <cmath>

#include "engine/core/error.h"
#include "engine/core/random.h"
#include "engine/layers/cross_entropy.h"
#include "engine/quant/make_algorithm.h"

namespace qt {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

EvalResult evaluate(Model& model, Algorithm& algo, const Dataset& data, const Normalization& norm,
                    int64_t batch_size) {
  EvalResult r;
  if (data.size() == 0) return r;
  algo.begin_eval();
  std::vector<int64_t> order(data.size());
  for (int64_t i = 0; i < data.size(); ++i) order[i] = i;
  BatchStream stream(data, order, batch_size, false, norm, Augmentation{}, 0);
  Batch batch;
  Context ctx;
  ctx.training = false;
  double loss_sum = 0;
  int64_t correct = 0;
  while (stream.next(batch)) {
    const Tensor& logits = model.forward(batch.x, ctx);
    int64_t c = 0;
    float loss = softmax_cross_entropy(logits, batch.y, nullptr, &c);
    loss_sum += static_cast<double>(loss) * batch.x.dim(0);
    correct += c;
  }
  algo.end_eval();
  r.samples = data.size();
  r.loss = loss_sum / r.samples;
  r.accuracy = static_cast<double>(correct) / r.samples;
  return r;
}

Trainer::Trainer(const TrainConfig& cfg, const DataSplits& data) : cfg_(cfg), data_(data) {
  if (data.train.size() == 0) throw UsageError("the training split is empty");
  cfg_.model_options.in_channels = data.train.channels;
  cfg_.model_options.height = data.train.height;
  cfg_.model_options.width = data.train.width;
  cfg_.model_options.classes = data.train.classes;
  validate_schedule(cfg_.schedule, cfg_.epochs);
  algo_ = make_algorithm(cfg_.algo);
  algo_->configure(cfg_.model_options);
  model_ = make_model(cfg_.model, cfg_.model_options);
  model_->init(derive(cfg_.seed, "init"));
  algo_->attach(*model_);
  std::vector<Param*> params = model_->params.params();
  for (Param* p : algo_->extra_params()) params.push_back(p);
  optimizer_ = make_optimizer(cfg_.optimizer, params);
}

Trainer::~Trainer() = default;

nlohmann::json Trainer::run_epoch(const std::function<void(const TrainProgress&)>& on_progress) {
  const int e = epoch_;
  const float lr = learning_rate(cfg_.schedule, cfg_.lr, e, cfg_.epochs);
  algo_->start_epoch(e, cfg_.epochs);

  const auto t0 = Clock::now();
  auto order = epoch_order(data_.train.size(), derive(cfg_.seed, "shuffle"), e, true);
  BatchStream stream(data_.train, std::move(order), cfg_.batch_size, false, data_.norm, data_.aug,
                     derive(derive(cfg_.seed, "augment"), static_cast<uint64_t>(e)));
  Batch batch;
  Context ctx;
  ctx.training = true;
  double loss_sum = 0;
  int64_t correct = 0, seen = 0, b = 0;
  TrainProgress progress{e, cfg_.epochs, 0, stream.batches(), 0, 0, 0, 0};
  while (stream.next(batch)) {
    ctx.noise_key = derive(cfg_.seed, static_cast<uint64_t>(step_));
    algo_->before_forward();
    const Tensor& logits = model_->forward(batch.x, ctx);
    int64_t c = 0;
    float loss = softmax_cross_entropy(logits, batch.y, &dlogits_, &c);
    if (!std::isfinite(loss))
      throw std::runtime_error("the training loss became " + std::to_string(loss) + " at epoch " +
                               std::to_string(e + 1) + ", batch " + std::to_string(b + 1) +
                               ": lower the learning rate (--lr)");
    model_->backward(dlogits_);
    algo_->adjust_gradients();
    optimizer_->step(lr);
    algo_->after_step();
    ++step_;
    const int64_t n = batch.x.dim(0);
    loss_sum += static_cast<double>(loss) * n;
    correct += c;
    seen += n;
    ++b;
    if (on_progress) {
      progress.batch = b;
      progress.loss = loss_sum / seen;
      progress.accuracy = static_cast<double>(correct) / seen;
      progress.elapsed_seconds = seconds_since(t0);
      progress.images_per_second = seen / std::max(1e-9, progress.elapsed_seconds);
      on_progress(progress);
    }
  }
  const double train_seconds = seconds_since(t0);
  algo_->end_epoch(e);

  const auto t1 = Clock::now();
  EvalResult val = evaluate(*model_, *algo_, data_.val, data_.norm, cfg_.eval_batch_size);
  EvalResult test = evaluate(*model_, *algo_, data_.test, data_.norm, cfg_.eval_batch_size);
  const double eval_seconds = seconds_since(t1);

  nlohmann::json rec;
  rec["epoch"] = e + 1;
  rec["lr"] = lr;
  rec["train_loss"] = loss_sum / seen;
  rec["train_acc"] = static_cast<double>(correct) / seen;
  if (val.samples) {
    rec["val_loss"] = val.loss;
    rec["val_acc"] = val.accuracy;
  }
  rec["test_loss"] = test.loss;
  rec["test_acc"] = test.accuracy;
  rec["algorithm"] = algo_->epoch_record();
  rec["timing"] = {{"train_seconds", train_seconds},
                   {"eval_seconds", eval_seconds},
                   {"images_per_second", seen / std::max(1e-9, train_seconds)}};
  ++epoch_;
  return rec;
}

void Trainer::run(const std::function<void(const nlohmann::json&)>& on_epoch,
                  const std::function<void(const TrainProgress&)>& on_progress) {
  while (epoch_ < cfg_.epochs) on_epoch(run_epoch(on_progress));
}

}  // namespace qt
