#include "app/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "app/train/shard_group.h"
#include "datasets/batch_stream.h"
#include "engine/core/error.h"
#include "engine/core/random.h"
#include "engine/layers/cross_entropy.h"
#include "engine/quant/act_quantizer.h"
#include "engine/quant/make_algorithm.h"

namespace qt {

namespace {
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

Trainer::Trainer(const TrainConfig& cfg, const DataSplits& data, Communicator* comm)
    : cfg_(cfg), data_(data), comm_(comm ? comm : &single_) {
  if (data.train.size() == 0) throw UsageError("the training split is empty");
  if (cfg_.shards > 1 || comm_->size() > 1) {
    // The stated rule: B/S samples per shard, and the epoch's last, shorter batch cut the same
    // way (shard s takes its samples ⌊s·n/S⌋ … ⌊(s + 1)·n/S⌋), which needs one sample per shard.
    if (cfg_.batch_size % cfg_.shards != 0)
      throw UsageError("--batch-size " + std::to_string(cfg_.batch_size) +
                       " is not divisible by --shards " + std::to_string(cfg_.shards) +
                       ": each shard of the global batch takes batch-size/shards samples");
    const int64_t last = data.train.size() % cfg_.batch_size;
    if (last > 0 && last < cfg_.shards)
      throw UsageError("the last batch of an epoch has " + std::to_string(last) +
                       " samples, fewer than --shards " + std::to_string(cfg_.shards) +
                       ": choose a batch size or shard count that leaves every shard a sample");
    shards_ = std::make_unique<ShardGroup>(cfg_.shards, *comm_);
  }
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
  // The other local shards' networks: the same architecture, their values copied before each step.
  if (shards_)
    for (int i = 1; i < shards_->local(); ++i)
      replicas_.push_back(make_model(cfg_.model, cfg_.model_options));
  std::vector<Param*> params = model_->params.params();
  for (Param* p : algo_->extra_params()) params.push_back(p);
  optimizer_ = make_optimizer(cfg_.optimizer, params);
}

Trainer::~Trainer() = default;

void Trainer::copy_to_replicas() {
  const std::vector<Param*> src = model_->params.params();
  const std::vector<Buffer*> bsrc = model_->params.buffers();
  std::vector<ActQuantizer*> acts;
  for (Layer* l : model_->layers())
    if (auto* a = dynamic_cast<ActQuantizer*>(l)) acts.push_back(a);
  for (auto& r : replicas_) {
    const std::vector<Param*> dst = r->params.params();
    for (size_t j = 0; j < src.size(); ++j) dst[j]->value.copy_from(src[j]->used);
    const std::vector<Buffer*> bdst = r->params.buffers();
    for (size_t j = 0; j < bsrc.size(); ++j) bdst[j]->value.copy_from(bsrc[j]->value);
    size_t k = 0;
    for (Layer* l : r->layers())
      if (auto* a = dynamic_cast<ActQuantizer*>(l)) a->set_learning(acts[k++]->learning());
  }
}

float Trainer::sharded_step(const Batch& batch, int64_t& correct,
                            std::vector<ImageProblem>& problems) {
  ShardGroup& g = *shards_;
  const int k = g.local(), S = g.shards();
  // The whole batch's rows: this rank holds rows ⌊first·n/S⌋ … of them (BatchStream's part).
  const int64_t n = batch.total, per = batch.x.size() / std::max<int64_t>(batch.x.dim(0), 1);
  if (batch.first != g.first() * n / S || batch.first + batch.x.dim(0) != (g.first() + k) * n / S)
    throw std::logic_error("sharded_step: the batch holds rows " + std::to_string(batch.first) +
                           " … of " + std::to_string(n) + ", not this rank's shards");
  copy_to_replicas();
  shard_x_.resize(k);
  shard_y_.resize(k);
  shard_dlogits_.resize(k);
  // Per local shard: Σ loss over its samples (mean · count) and its hits; then the length of
  // this rank's image problems, so that the step's one gather tells whether there are any.
  const size_t row = 2 * static_cast<size_t>(k) + 1;
  std::vector<double> stats(row);
  const uint64_t step_key = derive(cfg_.seed, static_cast<uint64_t>(step_));
  g.run([&](int i, ShardSync& sync) {
    const int s = g.first() + i;
    const int64_t r0 = s * n / S, r1 = (s + 1) * n / S;
    Shape shape = batch.x.shape();
    shape[0] = r1 - r0;
    Tensor& x = shard_x_[i];
    x.resize(shape);
    const int64_t l0 = r0 - batch.first, l1 = r1 - batch.first;  // in the rows held here
    std::copy(batch.x.data() + l0 * per, batch.x.data() + l1 * per, x.data());
    shard_y_[i].assign(batch.y.begin() + l0, batch.y.begin() + l1);
    Model& m = i == 0 ? *model_ : *replicas_[i - 1];
    Context ctx;
    ctx.training = true;
    ctx.sync = &sync;
    ctx.noise_key = derive(step_key, static_cast<uint64_t>(s));  // each shard its own dropout
    const Tensor& logits = m.forward(x, ctx);
    int64_t c = 0;
    const float loss = softmax_cross_entropy(logits, shard_y_[i], &shard_dlogits_[i], &c, n);
    m.backward(shard_dlogits_[i]);
    stats[2 * i] = static_cast<double>(loss) * (r1 - r0);
    stats[2 * i + 1] = static_cast<double>(c);
  });
  // The gradients: every shard's, added in shard order into model_'s.
  Tensor& grads = model_->params.grads();
  const int64_t len = grads.size();
  std::vector<float> local(static_cast<size_t>(k * len));
  std::copy(grads.data(), grads.data() + len, local.data());
  for (int i = 1; i < k; ++i) {
    const Tensor& rg = replicas_[i - 1]->params.grads();
    std::copy(rg.data(), rg.data() + len, local.data() + i * len);
  }
  g.sum_over_shards(local.data(), len, grads.data());
  std::string mine;
  if (comm_->size() > 1) encode_problems(problems, 0, mine);
  stats[row - 1] = static_cast<double>(mine.size());
  const int N = comm_->size();
  std::vector<double> all(row * N);
  g.comm().allgather(stats.data(), stats.size() * sizeof(double), all.data());
  double loss_sum = 0;
  int64_t hits = 0;
  for (int s = 0; s < S; ++s) {
    const size_t at = (s / k) * row + 2 * static_cast<size_t>(s % k);
    loss_sum += all[at];
    hits += static_cast<int64_t>(all[at + 1]);
  }
  correct = hits;
  // The ranks hold consecutive rows in rank order: their problems in rank order are the batch's.
  if (N > 1) {
    std::vector<int64_t> lengths(static_cast<size_t>(N));
    for (int q = 0; q < N; ++q) lengths[q] = static_cast<int64_t>(all[q * row + row - 1]);
    problems.clear();
    for (const std::string& bytes : allgather_strings(g.comm(), mine, &lengths))
      for (auto& p : decode_problems(bytes)) problems.push_back(std::move(p.second));
  }
  return static_cast<float>(loss_sum / static_cast<double>(n));
}

void Trainer::report(const std::vector<ImageProblem>& problems) {
  for (const ImageProblem& p : problems)
    if (reported_.insert(p.message).second && log_) log_("bad image: " + p.message);
}

bool Trainer::run_epoch(json& rec, const std::function<void(const TrainProgress&)>& on_progress,
                        const std::atomic<bool>* stop) {
  const int e = epoch_;
  const float lr =
      algo_->learning_rate(learning_rate(cfg_.schedule, cfg_.lr, e, cfg_.epochs), cfg_.lr, e);
  if (batch_ == 0) algo_->start_epoch(e, cfg_.epochs);

  const auto t0 = Clock::now();
  const double seconds_before = train_seconds_;
  const int64_t seen_before = seen_;
  const int64_t bytes_before = comm_->bytes_received(), steps_before = step_;
  const double comm_seconds_before = comm_->seconds();
  // The order and the augmentation depend only on (seed, epoch): a resumed epoch sees the same
  // batches.
  auto order = epoch_order(data_.train.size(), derive(cfg_.seed, "shuffle"), e, true);
  // Under shards, this rank prepares only its shards' rows of each batch (reading and augmenting
  // B·k/S images rather than B): the same rows, bit for bit, as in the whole batch.
  StreamPart part;
  if (shards_)
    part = {1, 0, shards_->first(), shards_->first() + shards_->local(), shards_->shards()};
  BatchStream stream(data_.train, std::move(order), cfg_.batch_size, false, data_.norm, data_.aug,
                     derive(derive(cfg_.seed, "augment"), static_cast<uint64_t>(e)), batch_, true,
                     part);
  Batch batch;
  Context ctx;
  ctx.training = true;
  TrainProgress progress{e, cfg_.epochs, batch_, stream.batches(), 0, 0, 0, 0};
  // Under several processes, a stop request on any of them stops all at the same step.
  auto stopping = [&] {
    const bool mine = stop && stop->load();
    return comm_->size() > 1 ? any_rank(*comm_, mine) : mine;
  };
  while (!stopping() && stream.next(batch)) {
    ctx.noise_key = derive(cfg_.seed, static_cast<uint64_t>(step_));
    algo_->before_forward();
    int64_t c = 0;
    float loss = 0;
    std::vector<ImageProblem> problems = std::move(batch.problems);
    if (shards_) {
      loss = sharded_step(batch, c, problems);
    } else {
      const Tensor& logits = model_->forward(batch.x, ctx);
      loss = softmax_cross_entropy(logits, batch.y, &dlogits_, &c);
    }
    if (!std::isfinite(loss))
      throw std::runtime_error("the training loss became " + std::to_string(loss) + " at epoch " +
                               std::to_string(e + 1) + ", batch " + std::to_string(batch_ + 1) +
                               ": lower the learning rate (--lr)");
    if (!shards_) model_->backward(dlogits_);
    algo_->adjust_gradients();
    optimizer_->step(lr);
    algo_->after_step();
    ++step_;
    ++batch_;
    const int64_t n = batch.total;
    for (const ImageProblem& p : problems) skipped_ += p.skipped;
    report(problems);
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
  // What the network carried to this process per step of this session's part of the epoch
  // (gradients, BatchNorm sums, losses, stop flags): timing-like, it depends on N.
  const double steps_here = static_cast<double>(std::max<int64_t>(1, step_ - steps_before));
  const double bytes_per_step =
      static_cast<double>(comm_->bytes_received() - bytes_before) / steps_here;
  const double comm_seconds_per_step = (comm_->seconds() - comm_seconds_before) / steps_here;
  const double prepared_per_step = static_cast<double>(stream.prepared()) / steps_here;
  algo_->end_epoch(e);

  const auto t1 = Clock::now();
  EvalResult val = evaluate(*model_, *algo_, data_.val, data_.norm, cfg_.eval_batch_size, comm_);
  EvalResult test = evaluate(*model_, *algo_, data_.test, data_.norm, cfg_.eval_batch_size, comm_);
  // Further evaluations the algorithm asks for (BinaryRelax's phase I: also at Q(w)).
  json variants = json::object();
  for (const std::string& v : algo_->eval_variants()) {
    algo_->set_eval_variant(v);
    EvalResult vv = evaluate(*model_, *algo_, data_.val, data_.norm, cfg_.eval_batch_size, comm_);
    EvalResult vt = evaluate(*model_, *algo_, data_.test, data_.norm, cfg_.eval_batch_size, comm_);
    algo_->set_eval_variant("");
    variants[v] = {{"test_loss", vt.loss}, {"test_acc", vt.accuracy}};
    if (vv.samples) variants[v]["val_loss"] = vv.loss, variants[v]["val_acc"] = vv.accuracy;
  }
  const double eval_seconds = seconds_since(t1);
  report(val.problems);
  report(test.problems);

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
  if (data_.train.file_backed())
    rec["data"] = {{"skipped_images", skipped_},
                   {"eval_skipped_images", val.skipped() + test.skipped()}};
  if (!variants.empty()) rec["algorithm"]["eval"] = variants;
  rec["timing"] = {{"train_seconds", train_seconds_},
                   {"eval_seconds", eval_seconds},
                   {"images_per_second", seen_ / std::max(1e-9, train_seconds_)}};
  if (comm_->size() > 1) {
    rec["timing"]["processes"] = comm_->size();
    rec["timing"]["bytes_received_per_step"] = bytes_per_step;
    rec["timing"]["communication_seconds_per_step"] = comm_seconds_per_step;
    rec["timing"]["images_prepared_per_step"] = prepared_per_step;
  }
  ++epoch_;
  batch_ = 0;
  loss_sum_ = 0;
  correct_ = seen_ = 0;
  skipped_ = 0;
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
            {"skipped_images", skipped_},
            {"train_seconds", train_seconds_},
            {"optimizer_steps", optimizer_->steps()},
            {"algorithm_state", algo_->state_json()}};
  return c;
}

namespace {

// Far above any count a run reaches, and exact in a double.
constexpr int64_t kMaxCount = int64_t{1} << 52;

// An integer of the checkpoint's meta section, in [lo, hi].
int64_t meta_integer(const json& m, const char* key, int64_t lo, int64_t hi) {
  const json* v = m.contains(key) ? &m[key] : nullptr;
  if (!v || !v->is_number_integer())
    throw DataError(std::string("the checkpoint's meta section lacks the integer '") + key + "'" +
                    (v ? ", found " + v->dump().substr(0, 60) : std::string()));
  // An unsigned value beyond int64 is out of range, not wrapped around.
  const bool fits =
      !v->is_number_unsigned() || v->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
  const int64_t x = fits ? v->get<int64_t>() : 0;
  if (!fits || x < lo || x > hi)
    throw DataError(std::string("the checkpoint's meta section has ") + key + " = " + v->dump() +
                    ", expected " + std::to_string(lo) + " … " + std::to_string(hi) +
                    " for this run");
  return x;
}

// A finite number ≥ 0 of the checkpoint's meta section.
double meta_number(const json& m, const char* key) {
  const json* v = m.contains(key) ? &m[key] : nullptr;
  if (!v || !v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() < 0)
    throw DataError(std::string("the checkpoint's meta section lacks '") + key +
                    "' as a finite number ≥ 0" +
                    (v ? ", found " + v->dump().substr(0, 60) : std::string()));
  return v->get<double>();
}

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
  // A checkpoint of this run holds exactly these tensors: one more means it belongs to another
  // configuration (another algorithm, model option or optimizer) than the one stored with it.
  if (c.tensors.size() != want.size())
    for (auto& [name, t] : c.tensors)
      if (std::none_of(want.begin(), want.end(), [&](auto& w) { return w.first == name; }))
        throw DataError("the checkpoint has a tensor '" + name +
                        "' this run does not have: it was written by another configuration");
  // The position must be one this run can stand at: a checkpoint whose checksums pass may still
  // have been edited, and a batch index past the epoch's end would read past the data.
  const json& m = c.meta;
  const int64_t epoch = meta_integer(m, "epoch", 0, cfg_.epochs);
  const int64_t batch = meta_integer(m, "batch", 0, cfg_.algo.steps_per_epoch);
  const int64_t step = meta_integer(m, "step", 0, kMaxCount);
  const int64_t seen = meta_integer(m, "seen", 0, kMaxCount);
  const int64_t correct = meta_integer(m, "correct", 0, seen);
  const int64_t optimizer_steps = meta_integer(m, "optimizer_steps", 0, kMaxCount);
  const double loss_sum = meta_number(m, "loss_sum");
  // Checkpoints from before image folders have no count: nothing was skipped then.
  const int64_t skipped =
      m.contains("skipped_images") ? meta_integer(m, "skipped_images", 0, seen) : 0;
  const double train_seconds = m.contains("train_seconds") ? meta_number(m, "train_seconds") : 0;
  const json algo_state = m.contains("algorithm_state") ? m["algorithm_state"] : json::object();
  if (!algo_state.is_object())
    throw DataError("the checkpoint's meta section has algorithm_state = " +
                    algo_state.dump().substr(0, 60) + ", expected an object");
  algo_->load_state_json(algo_state);
  for (auto& [name, t] : want) t->copy_from(*c.find(name));
  epoch_ = static_cast<int>(epoch);
  step_ = step;
  batch_ = batch;
  loss_sum_ = loss_sum;
  correct_ = correct;
  seen_ = seen;
  skipped_ = skipped;
  train_seconds_ = train_seconds;
  optimizer_->set_steps(optimizer_steps);
}

}  // namespace qt
