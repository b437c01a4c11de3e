// The options every run has: model, data, schedule, optimizer, seed, threads.
#include "app/config.h"
#include "datasets/registry.h"
#include "engine/core/error.h"
#include "engine/models/model.h"

namespace qt {

using json = nlohmann::json;

// One entry a line or two: the schema reads as a table (clang-format would put one field a line).
// clang-format off
void add_core_options(std::vector<ConfigOption>& v) {
  auto add = [&](ConfigOption o) { v.push_back(std::move(o)); };
  add({"schema_version", "", "version of the config.json layout (docs/metrics.md)", OptKind::Int, 1, {}, 1, 1, {}});
  add({"model", "--model", "network to train (see `qtrain models`)", OptKind::String, "lenet5", model_names(), 0, 0,
       [](TrainConfig& t, const json& x) { t.model = x; }});
  add({"model_options.logit_bn", "--logit-bn", "a BatchNorm on the logits after the last linear layer (Iterative Training's code)",
       OptKind::Bool, false, {}, 0, 0, [](TrainConfig& t, const json& x) { t.model_options.logit_bn = x; }});
  add({"model_options.shortcut", "--shortcut", "CIFAR ResNets' shortcut where the shape changes: A = zero-padded identity (the papers' code), B = 1×1 conv + BatchNorm",
       OptKind::String, "A", {"A", "B"}, 0, 0, [](TrainConfig& t, const json& x) { t.model_options.shortcut = x; }});
  add({"data.name", "--dataset", "dataset (see `qtrain datasets list`)", OptKind::String, "fashion-mnist",
       dataset_names(), 0, 0, [](TrainConfig& t, const json& x) { t.data.name = x; }});
  add({"data.dir", "--data-dir", "folder with the dataset's files (\"\" = $QTRAIN_DATA_DIR, then the system locations)",
       OptKind::String, "", {}, 0, 0, [](TrainConfig& t, const json& x) { t.data.data_dir = x; }});
  add({"data.val_size", "--val-size", "training images held out for validation (-1 = the dataset's default, 0 = none)",
       OptKind::Int, -1, {}, -1, 1e9, [](TrainConfig& t, const json& x) { t.data.val_size = x; }});
  add({"data.stratified", "--stratified", "hold out the same share of every class for validation", OptKind::Bool,
       false, {}, 0, 0, [](TrainConfig& t, const json& x) { t.data.stratified = x; }});
  add({"data.split_seed", "--split-seed", "seed of the validation split (which training images are held out)",
       OptKind::Int, 0, {}, 0, 9.0e15, [](TrainConfig& t, const json& x) { t.data.split_seed = x.get<uint64_t>(); }});
  add({"data.cifar100_labels", "--cifar100-labels", "cifar100: the class is the fine label (100 classes) or the coarse one (20)",
       OptKind::String, "fine", {"fine", "coarse"}, 0, 0, [](TrainConfig& t, const json& x) { t.data.cifar100_labels = x; }});
  // The synthetic set's defaults are SyntheticSpec's (datasets/synthetic.h).
  add({"data.synthetic.shape", "--synthetic-shape", "synthetic: image shape C,H,W", OptKind::IntList,
       json::array({1, 28, 28}), {}, 1, 65535, [](TrainConfig& t, const json& x) {
         if (x.size() != 3) return;  // refused by add_core_checks
         t.data.synthetic.channels = x[0], t.data.synthetic.height = x[1], t.data.synthetic.width = x[2];
       }});
  add({"data.synthetic.classes", "--synthetic-classes", "synthetic: number of classes", OptKind::Int, 10, {}, 2,
       65536, [](TrainConfig& t, const json& x) { t.data.synthetic.classes = x; }});
  add({"data.synthetic.size", "--synthetic-size", "synthetic: TRAIN,TEST sample counts (validation is held out of TRAIN)",
       OptKind::IntList, json::array({6000, 1000}), {}, 1, 1e9, [](TrainConfig& t, const json& x) {
         if (x.size() != 2) return;  // refused by add_core_checks
         t.data.synthetic.train_size = x[0], t.data.synthetic.test_size = x[1];
       }});
  add({"data.synthetic.seed", "--synthetic-seed", "synthetic: seed of the class prototypes and samples (not --seed)",
       OptKind::Int, 0, {}, 0, 9.0e15, [](TrainConfig& t, const json& x) { t.data.synthetic.seed = x.get<uint64_t>(); }});
  add({"data.synthetic.noise", "--synthetic-noise", "synthetic: share of each pixel that is noise (harder when higher)",
       OptKind::Float, 0.5, {}, 0, 1, [](TrainConfig& t, const json& x) { t.data.synthetic.noise = x.get<float>(); }});
  add({"data.limit_train", "--limit-train", "train on the first N images of the training split only (0 = all)",
       OptKind::Int, 0, {}, 0, 1e9, [](TrainConfig& t, const json& x) { t.data.limit_train = x; }});
  add({"data.limit_test", "--limit-test", "evaluate on the first N test images only (0 = all)", OptKind::Int, 0, {},
       0, 1e9, [](TrainConfig& t, const json& x) { t.data.limit_test = x; }});
  add({"data.augment", "--augment", "pad-4 random crop + flip: auto = on for 32×32 colour data", OptKind::String,
       "auto", {"auto", "on", "off"}, 0, 0, [](TrainConfig& t, const json& x) { t.data.augment = x; }});
  add({"data.normalization", "--normalization", "per-channel mean/std: standard constants, computed from the training split, or none",
       OptKind::String, "standard", {"standard", "computed", "none"}, 0, 0,
       [](TrainConfig& t, const json& x) { t.data.normalization = x; }});
  add({"epochs", "--epochs", "number of training epochs", OptKind::Int, 10, {}, 1, 1e6,
       [](TrainConfig& t, const json& x) { t.epochs = x; }});
  add({"batch_size", "--batch-size", "training batch size", OptKind::Int, 128, {}, 1, 1e6,
       [](TrainConfig& t, const json& x) { t.batch_size = x; }});
  add({"eval_batch_size", "--eval-batch-size", "evaluation batch size (does not change results)", OptKind::Int, 1000,
       {}, 1, 1e6, [](TrainConfig& t, const json& x) { t.eval_batch_size = x; }});
  add({"lr", "--lr", "base learning rate", OptKind::Float, 0.01, {}, 0, 1e3,
       [](TrainConfig& t, const json& x) { t.lr = x.get<float>(); }});
  add({"optimizer.name", "--optimizer", "optimizer", OptKind::String, "sgd", {"sgd", "adam"}, 0, 0,
       [](TrainConfig& t, const json& x) { t.optimizer.name = x; }});
  add({"optimizer.momentum", "--momentum", "SGD momentum", OptKind::Float, 0.9, {}, 0, 1,
       [](TrainConfig& t, const json& x) { t.optimizer.momentum = x.get<float>(); }});
  add({"optimizer.nesterov", "--nesterov", "SGD with Nesterov momentum", OptKind::Bool, false, {}, 0, 0,
       [](TrainConfig& t, const json& x) { t.optimizer.nesterov = x; }});
  add({"optimizer.weight_decay", "--weight-decay", "L2 weight decay (added to the gradient)", OptKind::Float, 0.0,
       {}, 0, 1, [](TrainConfig& t, const json& x) { t.optimizer.weight_decay = x.get<float>(); }});
  add({"optimizer.decay_norm", "--decay-norm",
       "weight decay on BatchNorm's γ and β too, as PyTorch's SGD and Adam (--no-decay-norm exempts them)",
       OptKind::Bool, true, {}, 0, 0, [](TrainConfig& t, const json& x) { t.optimizer.decay_norm = x; }});
  v.back().legacy = false;  // qtrain exempted BatchNorm before the key existed
  add({"optimizer.beta1", "--beta1", "Adam β1", OptKind::Float, 0.9, {}, 0, 0.999999,
       [](TrainConfig& t, const json& x) { t.optimizer.beta1 = x.get<float>(); }});
  add({"optimizer.beta2", "--beta2", "Adam β2", OptKind::Float, 0.999, {}, 0, 0.999999,
       [](TrainConfig& t, const json& x) { t.optimizer.beta2 = x.get<float>(); }});
  add({"optimizer.eps", "--adam-eps", "Adam ε", OptKind::Float, 1e-8, {}, 0, 1,
       [](TrainConfig& t, const json& x) { t.optimizer.eps = x.get<float>(); }});
  add({"schedule.name", "--schedule", "learning-rate schedule, applied per epoch", OptKind::String, "constant",
       {"constant", "multistep", "cosine", "exponential"}, 0, 0,
       [](TrainConfig& t, const json& x) { t.schedule.name = x; }});
  add({"schedule.milestones", "--milestones", "multistep: epochs at which the rate is multiplied by gamma (e.g. 80,140)",
       OptKind::IntList, json::array(), {}, 1, 1e6,
       [](TrainConfig& t, const json& x) { t.schedule.milestones = x.get<std::vector<int>>(); }});
  add({"schedule.gamma", "--gamma", "multistep factor, or the per-epoch factor of exponential", OptKind::Float, 0.1,
       {}, 1e-9, 1, [](TrainConfig& t, const json& x) { t.schedule.gamma = x.get<float>(); }});
  add({"schedule.min_lr", "--min-lr", "cosine: the final learning rate", OptKind::Float, 0.0, {}, 0, 1e3,
       [](TrainConfig& t, const json& x) { t.schedule.min_lr = x.get<float>(); }});
  add({"seed", "--seed", "random seed: initialisation, shuffling, augmentation, dropout", OptKind::Int, 0, {}, 0,
       9.0e15, [](TrainConfig& t, const json& x) { t.seed = x.get<uint64_t>(); }});
  add({"threads", "--threads", "worker threads (0 = all cores); results do not depend on it", OptKind::Int, 0, {},
       0, 1024, [](TrainConfig& t, const json& x) { t.threads = x; }});
}
// clang-format on

void add_core_checks(std::vector<ConfigCheck>& v) {
  v.push_back([](const json& c) {
    auto count = [&](const char* key, size_t n, const char* what) {
      const json& x = c["data"]["synthetic"][key];
      if (x.size() != n)
        throw UsageError(std::string("data.synthetic.") + key + " = " + x.dump() + " must have " +
                         std::to_string(n) + " values: " + what);
    };
    count("shape", 3, "C,H,W (e.g. --synthetic-shape 3,32,32)");
    count("size", 2, "TRAIN,TEST (e.g. --synthetic-size 6000,1000)");
  });
  v.push_back([](const json& c) {
    int epochs = c["epochs"];
    for (auto& m : c["schedule"]["milestones"])
      if (m.get<int>() > epochs)
        throw UsageError("schedule.milestones: epoch " + m.dump() + " is after the last epoch (" +
                         std::to_string(epochs) + ")");
    auto& ms = c["schedule"]["milestones"];
    for (size_t i = 1; i < ms.size(); ++i)
      if (ms[i].get<int>() <= ms[i - 1].get<int>())
        throw UsageError("schedule.milestones must be increasing, got " + ms.dump());
    if (c["schedule"]["name"] == "multistep" && ms.empty())
      throw UsageError("schedule multistep needs --milestones (e.g. --milestones 80,140)");
  });
}

}  // namespace qt
