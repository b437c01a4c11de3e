#include "engine/train/trainer.h"

#include <chrono>
#include <cmath>

#include "datasets/batch_stream.h"
#include "engine/core/error.h"
#include "engine/core/random.h"
#include "engine/layers/cross_entropy.h"
#include "engine/quant/make_algorithm.h"

namespace qt {

namespace {
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

Trainer::Trainer(const TrainConfig& cfg, const DataSplits& data) : cfg_(cfg), data_(data) {
  if (data.train.size() == 0) throw UsageError("the training split is empty");
  cfg_.model_options.in_channels = data.train.channels;
  cfg_.model_options.height = data.train.height;
  cfg_.model_options.width = data.train.width;
  cfg_.model_options.classes = data.train.classes;
  validate_schedule(cfg_.schedule, cfg_.epochs);
  // The algorithm's per-step schedules need the epoch's length; its random layer order, the seed.
  cfg_.algo.seed = cfg_.seed;
  cfg_.algo.steps_per_epoch = (data.train.size() + cfg_.batch_size - 1) / cfg_.batch_size;
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

bool Trainer::run_epoch(json& rec, const std::function<void(const TrainProgress&)>& on_progress,
                        const std::atomic<bool>* stop) {
  const int e = epoch_;
  const float lr =
      algo_->learning_rate(learning_rate(cfg_.schedule, cfg_.lr, e, cfg_.epochs), cfg_.lr, e);
  if (batch_ == 0) algo_->start_epoch(e, cfg_.epochs);

  const auto t0 = Clock::now();
  const double seconds_before = train_seconds_;
  const int64_t seen_before = seen_;
  // The order and the augmentation depend only on (seed, epoch): a resumed epoch sees the same
  // batches.
  auto order = epoch_order(data_.train.size(), derive(cfg_.seed, "shuffle"), e, true);
  BatchStream stream(data_.train, std::move(order), cfg_.batch_size, false, data_.norm, data_.aug,
                     derive(derive(cfg_.seed, "augment"), static_cast<uint64_t>(e)), batch_);
  Batch batch;
  Context ctx;
  ctx.training = true;
  TrainProgress progress{e, cfg_.epochs, batch_, stream.batches(), 0, 0, 0, 0};
  while (!(stop && stop->load()) && stream.next(batch)) {
    ctx.noise_key = derive(cfg_.seed, static_cast<uint64_t>(step_));
    algo_->before_forward();
    const Tensor& logits = model_->forward(batch.x, ctx);
    int64_t c = 0;
    float loss = softmax_cross_entropy(logits, batch.y, &dlogits_, &c);
    if (!std::isfinite(loss))
      throw std::runtime_error("the training loss became " + std::to_string(loss) + " at epoch " +
                               std::to_string(e + 1) + ", batch " + std::to_string(batch_ + 1) +
                               ": lower the learning rate (--lr)");
    model_->backward(dlogits_);
    algo_->adjust_gradients();
    optimizer_->step(lr);
    algo_->after_step();
    ++step_;
    ++batch_;
    const int64_t n = batch.x.dim(0);
    loss_sum_ += static_cast<double>(loss) * n;
    correct_ += c;
    seen_ += n;
    train_seconds_ = seconds_before + seconds_since(t0);
    if (on_progress) {
      progress.batch = batch_;
      progress.loss = loss_sum_ / seen_;
      progress.accuracy = static_cast<double>(correct_) / seen_;
      progress.elapsed_seconds = train_seconds_;
      progress.images_per_second = (seen_ - seen_before) / std::max(1e-9, seconds_since(t0));
      on_progress(progress);
    }
  }
  if (batch_ < stream.batches()) return false;
  algo_->end_epoch(e);

  const auto t1 = Clock::now();
  EvalResult val = evaluate(*model_, *algo_, data_.val, data_.norm, cfg_.eval_batch_size);
  EvalResult test = evaluate(*model_, *algo_, data_.test, data_.norm, cfg_.eval_batch_size);
  // Further evaluations the algorithm asks for (BinaryRelax's phase I: also at Q(w)).
  json variants = json::object();
  for (const std::string& v : algo_->eval_variants()) {
    algo_->set_eval_variant(v);
    EvalResult vv = evaluate(*model_, *algo_, data_.val, data_.norm, cfg_.eval_batch_size);
    EvalResult vt = evaluate(*model_, *algo_, data_.test, data_.norm, cfg_.eval_batch_size);
    algo_->set_eval_variant("");
    variants[v] = {{"test_loss", vt.loss}, {"test_acc", vt.accuracy}};
    if (vv.samples) variants[v]["val_loss"] = vv.loss, variants[v]["val_acc"] = vv.accuracy;
  }
  const double eval_seconds = seconds_since(t1);

  rec = json::object();
  rec["schema_version"] = 1;
  rec["epoch"] = e + 1;
  rec["lr"] = lr;
  rec["train_loss"] = loss_sum_ / seen_;
  rec["train_acc"] = static_cast<double>(correct_) / seen_;
  if (val.samples) {
    rec["val_loss"] = val.loss;
    rec["val_acc"] = val.accuracy;
  }
  rec["test_loss"] = test.loss;
  rec["test_acc"] = test.accuracy;
  rec["algorithm"] = algo_->epoch_record();
  if (!variants.empty()) rec["algorithm"]["eval"] = variants;
  rec["timing"] = {{"train_seconds", train_seconds_},
                   {"eval_seconds", eval_seconds},
                   {"images_per_second", seen_ / std::max(1e-9, train_seconds_)}};
  ++epoch_;
  batch_ = 0;
  loss_sum_ = 0;
  correct_ = seen_ = 0;
  train_seconds_ = 0;
  return true;
}

bool Trainer::run(const std::function<void(const json&)>& on_epoch,
                  const std::function<void(const TrainProgress&)>& on_progress,
                  const std::atomic<bool>* stop) {
  while (epoch_ < cfg_.epochs) {
    json rec;
    if (!run_epoch(rec, on_progress, stop)) return false;
    on_epoch(rec);
    if (stop && stop->load()) return epoch_ >= cfg_.epochs;
  }
  return true;
}

Checkpoint Trainer::snapshot() {
  Checkpoint c;
  for (Param* p : model_->params.params()) c.tensors.emplace_back("param/" + p->name, p->value);
  for (Buffer* b : model_->params.buffers()) c.tensors.emplace_back("buffer/" + b->name, b->value);
  for (auto& [name, t] : optimizer_->state()) c.tensors.emplace_back("optim/" + name, *t);
  for (Param* p : algo_->extra_params()) c.tensors.emplace_back("extra/" + p->name, p->value);
  for (auto& [name, t] : algo_->state_tensors()) c.tensors.emplace_back("algo/" + name, *t);
  // Tensor copies of views would alias live memory: make every saved tensor own its data.
  for (auto& [name, t] : c.tensors) {
    Tensor owned(t.shape());
    owned.copy_from(t);
    t = std::move(owned);
  }
  c.meta = {{"model", cfg_.model},
            {"algorithm", algo_->name()},
            {"epoch", epoch_},
            {"step", step_},
            {"batch", batch_},
            {"loss_sum", loss_sum_},
            {"correct", correct_},
            {"seen", seen_},
            {"train_seconds", train_seconds_},
            {"optimizer_steps", optimizer_->steps()},
            {"algorithm_state", algo_->state_json()}};
  return c;
}

namespace {

// Every tensor `want` names must be in the checkpoint with the same shape; checked before any copy.
void check_tensors(const Checkpoint& c, const std::vector<std::pair<std::string, Tensor*>>& want,
                   const std::string& what) {
  for (auto& [name, t] : want) {
    const Tensor* s = c.find(name);
    if (!s)
      throw DataError("the checkpoint has no tensor '" + name + "': it was not written by this " +
                      what + " (check --model and --algo)");
    if (s->shape() != t->shape())
      throw DataError("the checkpoint's tensor '" + name + "' has shape " + shape_str(s->shape()) +
                      ", this " + what + " needs " + shape_str(t->shape()));
  }
}

}  // namespace

void Trainer::load_weights(const Checkpoint& c) {
  std::vector<std::pair<std::string, Tensor*>> want;
  for (Param* p : model_->params.params()) {
    // An activation quantizer's α is the algorithm's own (BCGD starting from a float network
    // whose sites were ReLUs): it keeps its initial value when the checkpoint has none.
    if (p->role == ParamRole::Scale && !c.find("param/" + p->name)) continue;
    want.emplace_back("param/" + p->name, &p->value);
  }
  for (Buffer* b : model_->params.buffers()) want.emplace_back("buffer/" + b->name, &b->value);
  check_tensors(c, want, "model (" + cfg_.model + ")");
  for (auto& [name, t] : want) t->copy_from(*c.find(name));
}

void Trainer::restore(const Checkpoint& c) {
  std::vector<std::pair<std::string, Tensor*>> want;
  for (Param* p : model_->params.params()) want.emplace_back("param/" + p->name, &p->value);
  for (Buffer* b : model_->params.buffers()) want.emplace_back("buffer/" + b->name, &b->value);
  for (auto& [name, t] : optimizer_->state()) want.emplace_back("optim/" + name, t);
  for (Param* p : algo_->extra_params()) want.emplace_back("extra/" + p->name, &p->value);
  for (auto& [name, t] : algo_->state_tensors()) want.emplace_back("algo/" + name, t);
  check_tensors(c, want, "run");
  const json& m = c.meta;
  for (const char* key :
       {"epoch", "step", "batch", "loss_sum", "correct", "seen", "optimizer_steps"})
    if (!m.contains(key) || !m[key].is_number())
      throw DataError(std::string("the checkpoint's meta section lacks '") + key + "'");
  for (auto& [name, t] : want) t->copy_from(*c.find(name));
  epoch_ = m["epoch"];
  step_ = m["step"];
  batch_ = m["batch"];
  loss_sum_ = m["loss_sum"];
  correct_ = m["correct"];
  seen_ = m["seen"];
  train_seconds_ = m.value("train_seconds", 0.0);
  optimizer_->set_steps(m["optimizer_steps"]);
  algo_->load_state_json(m.value("algorithm_state", json::object()));
}

}  // namespace qt
