// The options every run has: model, data, schedule, optimizer, seed, threads.
#include "app/config/options_core.h"

#include "app/config/config.h"
#include "datasets/registry.h"
#include "engine/core/error.h"
#include "engine/models/model.h"

namespace qt {

using json = nlohmann::json;

void add_core_options(std::vector<ConfigOption>& v) {
  auto add = [&](ConfigOption o) { v.push_back(std::move(o)); };
  add({
      .key = "schema_version",
      .flag = "",
      .help = "version of the config.json layout (docs/metrics.md)",
      .kind = OptKind::Int,
      .def = 1,
      .min = 1,
      .max = 1,
  });
  add({
      .key = "model",
      .flag = "--model",
      .help = "network to train (see `qtrain models`)",
      .kind = OptKind::String,
      .def = "lenet5",
      .choices = model_names(),
      .apply = [](TrainConfig& t, const json& x) { t.model = x; },
  });
  add({
      .key = "model_options.logit_bn",
      .flag = "--logit-bn",
      .help = "a BatchNorm on the logits after the last linear layer (Iterative Training's code)",
      .kind = OptKind::Bool,
      .def = false,
      .apply = [](TrainConfig& t, const json& x) { t.model_options.logit_bn = x; },
  });
  add({
      .key = "model_options.shortcut",
      .flag = "--shortcut",
      .help = "CIFAR ResNets' shortcut where the shape changes: A = zero-padded identity (the "
              "papers' code), B = 1×1 conv + BatchNorm",
      .kind = OptKind::String,
      .def = "A",
      .choices = {"A", "B"},
      .apply = [](TrainConfig& t, const json& x) { t.model_options.shortcut = x; },
  });
  add({
      .key = "data.name",
      .flag = "--dataset",
      .help = "dataset (see `qtrain datasets list`)",
      .kind = OptKind::String,
      .def = "fashion-mnist",
      .choices = dataset_names(),
      .apply = [](TrainConfig& t, const json& x) { t.data.name = x; },
  });
  add({
      .key = "data.dir",
      .flag = "--data-dir",
      .help =
          "folder with the dataset's files (\"\" = $QTRAIN_DATA_DIR, then the system locations)",
      .kind = OptKind::String,
      .def = "",
      .apply = [](TrainConfig& t, const json& x) { t.data.data_dir = x; },
  });
  add({
      .key = "data.val_size",
      .flag = "--val-size",
      .help = "training images held out for validation (-1 = the dataset's default, 0 = none)",
      .kind = OptKind::Int,
      .def = -1,
      .min = -1,
      .max = 1e9,
      .apply = [](TrainConfig& t, const json& x) { t.data.val_size = x; },
  });
  add({
      .key = "data.stratified",
      .flag = "--stratified",
      .help = "hold out the same share of every class for validation",
      .kind = OptKind::Bool,
      .def = false,
      .apply = [](TrainConfig& t, const json& x) { t.data.stratified = x; },
  });
  add({
      .key = "data.split_seed",
      .flag = "--split-seed",
      .help = "seed of the validation split (which training images are held out)",
      .kind = OptKind::Int,
      .def = 0,
      .min = 0,
      .max = 9.0e15,
      .apply = [](TrainConfig& t, const json& x) { t.data.split_seed = x.get<uint64_t>(); },
  });
  add({
      .key = "data.cifar100_labels",
      .flag = "--cifar100-labels",
      .help = "cifar100: the class is the fine label (100 classes) or the coarse one (20)",
      .kind = OptKind::String,
      .def = "fine",
      .choices = {"fine", "coarse"},
      .apply = [](TrainConfig& t, const json& x) { t.data.cifar100_labels = x; },
  });
  add({
      .key = "data.image_size",
      .flag = "--image-size",
      .help = "image folders (imagenet-folder): side of the square samples the crops are "
              "resized to",
      .kind = OptKind::Int,
      .def = 224,
      .min = 8,
      .max = 4096,
      .apply = [](TrainConfig& t, const json& x) { t.data.image_size = x; },
  });
  add({
      .key = "data.resize_size",
      .flag = "--resize-size",
      .help = "image folders: evaluation resizes the shorter side to this, then takes the "
              "centre crop (0 = image size × 256/224: 256 for 224)",
      .kind = OptKind::Int,
      .def = 0,
      .min = 0,
      .max = 8192,
      .apply = [](TrainConfig& t, const json& x) { t.data.resize_size = x; },
  });
  add({
      .key = "data.bad_image",
      .flag = "--bad-image",
      .help = "image folders: a file that does not decode is replaced by the next good image "
              "and logged and counted (skip), or stops the run (fail)",
      .kind = OptKind::String,
      .def = "skip",
      .choices = {"skip", "fail"},
      .apply = [](TrainConfig& t, const json& x) { t.data.bad_image = x; },
  });
  // The synthetic set's defaults are SyntheticSpec's (datasets/synthetic.h).
  add({
      .key = "data.synthetic.shape",
      .flag = "--synthetic-shape",
      .help = "synthetic: image shape C,H,W",
      .kind = OptKind::IntList,
      .def = json::array({1, 28, 28}),
      .min = 1,
      .max = 65535,
      .apply =
          [](TrainConfig& t, const json& x) {
            if (x.size() != 3) return;  // refused by add_core_checks
            t.data.synthetic.channels = x[0], t.data.synthetic.height = x[1],
            t.data.synthetic.width = x[2];
          },
  });
  add({
      .key = "data.synthetic.classes",
      .flag = "--synthetic-classes",
      .help = "synthetic: number of classes",
      .kind = OptKind::Int,
      .def = 10,
      .min = 2,
      .max = 65536,
      .apply = [](TrainConfig& t, const json& x) { t.data.synthetic.classes = x; },
  });
  add({
      .key = "data.synthetic.size",
      .flag = "--synthetic-size",
      .help = "synthetic: TRAIN,TEST sample counts (validation is held out of TRAIN)",
      .kind = OptKind::IntList,
      .def = json::array({6000, 1000}),
      .min = 1,
      .max = 1e9,
      .apply =
          [](TrainConfig& t, const json& x) {
            if (x.size() != 2) return;  // refused by add_core_checks
            t.data.synthetic.train_size = x[0], t.data.synthetic.test_size = x[1];
          },
  });
  add({
      .key = "data.synthetic.seed",
      .flag = "--synthetic-seed",
      .help = "synthetic: seed of the class prototypes and samples (not --seed)",
      .kind = OptKind::Int,
      .def = 0,
      .min = 0,
      .max = 9.0e15,
      .apply = [](TrainConfig& t, const json& x) { t.data.synthetic.seed = x.get<uint64_t>(); },
  });
  add({
      .key = "data.synthetic.noise",
      .flag = "--synthetic-noise",
      .help = "synthetic: share of each pixel that is noise (harder when higher)",
      .kind = OptKind::Float,
      .def = 0.5,
      .min = 0,
      .max = 1,
      .apply = [](TrainConfig& t, const json& x) { t.data.synthetic.noise = x.get<float>(); },
  });
  add({
      .key = "data.limit_train",
      .flag = "--limit-train",
      .help = "train on the first N images of the training split only (0 = all)",
      .kind = OptKind::Int,
      .def = 0,
      .min = 0,
      .max = 1e9,
      .apply = [](TrainConfig& t, const json& x) { t.data.limit_train = x; },
  });
  add({
      .key = "data.limit_test",
      .flag = "--limit-test",
      .help = "evaluate on the first N test images only (0 = all)",
      .kind = OptKind::Int,
      .def = 0,
      .min = 0,
      .max = 1e9,
      .apply = [](TrainConfig& t, const json& x) { t.data.limit_test = x; },
  });
  add({
      .key = "data.augment",
      .flag = "--augment",
      .help = "pad-4 random crop + flip: auto = on for 32×32 colour data; image folders: "
              "random-resized crop + flip (auto = on)",
      .kind = OptKind::String,
      .def = "auto",
      .choices = {"auto", "on", "off"},
      .apply = [](TrainConfig& t, const json& x) { t.data.augment = x; },
  });
  add({
      .key = "data.normalization",
      .flag = "--normalization",
      .help = "per-channel mean/std: standard constants, computed from the training split, or none",
      .kind = OptKind::String,
      .def = "standard",
      .choices = {"standard", "computed", "none"},
      .apply = [](TrainConfig& t, const json& x) { t.data.normalization = x; },
  });
  add({
      .key = "epochs",
      .flag = "--epochs",
      .help = "number of training epochs",
      .kind = OptKind::Int,
      .def = 10,
      .min = 1,
      .max = 1e6,
      .apply = [](TrainConfig& t, const json& x) { t.epochs = x; },
  });
  add({
      .key = "batch_size",
      .flag = "--batch-size",
      .help = "training batch size",
      .kind = OptKind::Int,
      .def = 128,
      .min = 1,
      .max = 1e6,
      .apply = [](TrainConfig& t, const json& x) { t.batch_size = x; },
  });
  add({
      .key = "shards",
      .flag = "--shards",
      .help = "split each batch into this many shards, run side by side (threads, or the "
              "processes of `mpirun -n N`, N dividing it) with BatchNorm over the whole batch; "
              "results depend on the shard count, never on N",
      .kind = OptKind::Int,
      .def = 1,
      .min = 1,
      .max = 4096,
      .apply = [](TrainConfig& t, const json& x) { t.shards = x; },
  });
  add({
      .key = "eval_batch_size",
      .flag = "--eval-batch-size",
      .help = "evaluation batch size (does not change results)",
      .kind = OptKind::Int,
      .def = 1000,
      .min = 1,
      .max = 1e6,
      .apply = [](TrainConfig& t, const json& x) { t.eval_batch_size = x; },
  });
  add({
      .key = "lr",
      .flag = "--lr",
      .help = "base learning rate",
      .kind = OptKind::Float,
      .def = 0.01,
      .min = 0,
      .max = 1e3,
      .apply = [](TrainConfig& t, const json& x) { t.lr = x.get<float>(); },
  });
  add({
      .key = "optimizer.name",
      .flag = "--optimizer",
      .help = "optimizer",
      .kind = OptKind::String,
      .def = "sgd",
      .choices = {"sgd", "adam"},
      .apply = [](TrainConfig& t, const json& x) { t.optimizer.name = x; },
  });
  add({
      .key = "optimizer.momentum",
      .flag = "--momentum",
      .help = "SGD momentum",
      .kind = OptKind::Float,
      .def = 0.9,
      .min = 0,
      .max = 1,
      .apply = [](TrainConfig& t, const json& x) { t.optimizer.momentum = x.get<float>(); },
  });
  add({
      .key = "optimizer.nesterov",
      .flag = "--nesterov",
      .help = "SGD with Nesterov momentum",
      .kind = OptKind::Bool,
      .def = false,
      .apply = [](TrainConfig& t, const json& x) { t.optimizer.nesterov = x; },
  });
  add({
      .key = "optimizer.weight_decay",
      .flag = "--weight-decay",
      .help = "L2 weight decay (added to the gradient)",
      .kind = OptKind::Float,
      .def = 0.0,
      .min = 0,
      .max = 1,
      .apply = [](TrainConfig& t, const json& x) { t.optimizer.weight_decay = x.get<float>(); },
  });
  add({
      .key = "optimizer.decay_norm",
      .flag = "--decay-norm",
      .help = "weight decay on BatchNorm's γ and β too, as PyTorch's SGD and Adam (--no-decay-norm "
              "exempts them)",
      .kind = OptKind::Bool,
      .def = true,
      .apply = [](TrainConfig& t, const json& x) { t.optimizer.decay_norm = x; },
      .legacy = false,  // qtrain exempted BatchNorm before the key existed
  });
  add({
      .key = "optimizer.beta1",
      .flag = "--beta1",
      .help = "Adam β1",
      .kind = OptKind::Float,
      .def = 0.9,
      .min = 0,
      .max = 0.999999,
      .apply = [](TrainConfig& t, const json& x) { t.optimizer.beta1 = x.get<float>(); },
  });
  add({
      .key = "optimizer.beta2",
      .flag = "--beta2",
      .help = "Adam β2",
      .kind = OptKind::Float,
      .def = 0.999,
      .min = 0,
      .max = 0.999999,
      .apply = [](TrainConfig& t, const json& x) { t.optimizer.beta2 = x.get<float>(); },
  });
  add({
      .key = "optimizer.eps",
      .flag = "--adam-eps",
      .help = "Adam ε",
      .kind = OptKind::Float,
      .def = 1e-8,
      .min = 0,
      .max = 1,
      .apply = [](TrainConfig& t, const json& x) { t.optimizer.eps = x.get<float>(); },
  });
  add({
      .key = "schedule.name",
      .flag = "--schedule",
      .help = "learning-rate schedule, applied per epoch",
      .kind = OptKind::String,
      .def = "constant",
      .choices = {"constant", "multistep", "cosine", "exponential"},
      .apply = [](TrainConfig& t, const json& x) { t.schedule.name = x; },
  });
  add({
      .key = "schedule.milestones",
      .flag = "--milestones",
      .help = "multistep: epochs at which the rate is multiplied by gamma (e.g. 80,140)",
      .kind = OptKind::IntList,
      .def = json::array(),
      .min = 1,
      .max = 1e6,
      .apply = [](TrainConfig& t,
                  const json& x) { t.schedule.milestones = x.get<std::vector<int>>(); },
  });
  add({
      .key = "schedule.gamma",
      .flag = "--gamma",
      .help = "multistep factor, or the per-epoch factor of exponential",
      .kind = OptKind::Float,
      .def = 0.1,
      .min = 1e-9,
      .max = 1,
      .apply = [](TrainConfig& t, const json& x) { t.schedule.gamma = x.get<float>(); },
  });
  add({
      .key = "schedule.min_lr",
      .flag = "--min-lr",
      .help = "cosine: the final learning rate",
      .kind = OptKind::Float,
      .def = 0.0,
      .min = 0,
      .max = 1e3,
      .apply = [](TrainConfig& t, const json& x) { t.schedule.min_lr = x.get<float>(); },
  });
  add({
      .key = "seed",
      .flag = "--seed",
      .help = "random seed: initialisation, shuffling, augmentation, dropout",
      .kind = OptKind::Int,
      .def = 0,
      .min = 0,
      .max = 9.0e15,
      .apply = [](TrainConfig& t, const json& x) { t.seed = x.get<uint64_t>(); },
  });
  add({
      .key = "threads",
      .flag = "--threads",
      .help = "worker threads (0 = all cores); results do not depend on it",
      .kind = OptKind::Int,
      .def = 0,
      .min = 0,
      .max = 1024,
      .apply = [](TrainConfig& t, const json& x) { t.threads = x; },
  });
}

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
