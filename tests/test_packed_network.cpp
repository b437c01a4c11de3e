// The packed engine computes the network that float evaluation of the same package computes:
// for every algorithm and activation whose layers the engine can pack, on LeNet-5, the MLP,
// VGG-11, ResNet-20 and ResNet-18 at 32×32 (random weights and BatchNorm statistics; LeNet-5 and
// the MLP also after a short training run), the predicted classes are the same on every image and
// the logits agree within kTol·(1 + max |logit|); and every packed layer, run on float evaluation's
// own input, gives its output within kLayerTol. Only the order of float multiplications differs
// (the integer sums are exact).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "app/config/config.h"
#include "app/package/export_package.h"
#include "app/package/packed_runner.h"
#include "app/train/trainer.h"
#include "datasets/registry.h"
#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/core/random.h"
#include "engine/kernels/packed_weights.h"
#include "engine/layers/batch_norm.h"

using namespace qt;
using json = nlohmann::json;

namespace {

constexpr double kTol = 1e-3;       // end to end, of the logits' scale
constexpr double kLayerTol = 1e-5;  // of each packed layer on float evaluation's input

struct Method {
  std::string label, algo;
  json overrides;
};

const Method kMethods[] = {
    {"binaryconnect", "binaryconnect", json::object()},
    {"bwn", "bwn", json::object()},
    {"ste ternary", "ste", {{"bits", 2}}},
    {"binaryrelax phase II", "binaryrelax", {{"phase2_epoch", 0}}},
    {"bcgd", "bcgd", json::object()},
    {"iterative", "iterative", {{"epochs_per_layer", 1}}},
    {"proxybnn", "proxybnn", json::object()},
};

struct Act {
  std::string act;
  int bits;
  const char* kernel;  // the kernel the quantized conv layers after the first must take
};
const Act kActs[] = {{"binary", 0, "xnor"},
                     {"binary-bireal", 0, "xnor"},
                     {"quant", 2, "bitserial"},
                     {"quant", 4, "bitserial"},
                     {"hardtanh", 0, "expanded"}};

json config_for(const std::string& model, const Method& m, const Act& a, int epochs) {
  json c = default_config();
  c["model"] = model;
  c["data"]["name"] = "synthetic";
  const bool big = model == "vgg11" || model == "resnet20" || model == "resnet18";
  c["data"]["synthetic"]["size"] = {64, big ? 8 : 16};
  if (model == "mlp" || model == "mlp-bn") c["data"]["synthetic"]["shape"] = {1, 8, 8};
  if (big) c["data"]["synthetic"]["shape"] = {3, 32, 32};
  c["data"]["val_size"] = 0;
  c["batch_size"] = 32;
  c["lr"] = 0.05;
  c["epochs"] = m.algo == "iterative" ? 30 : epochs;  // iterative binarizes a layer per epoch
  c["algo"]["name"] = m.algo;
  for (auto& [k, v] : m.overrides.items()) c["algo"][k] = v;
  c["algo"]["act"] = a.act;
  if (a.bits) c["algo"]["act_bits"] = a.bits;
  return c;
}

// BatchNorm parameters away from their initial 1 and 0, and statistics near those of the
// network's own activations (random ones would blow small rounding differences up layer after
// layer, which a trained network does not do): one forward pass in training mode from running
// statistics (0, 1) leaves 0.9·(0, 1) + 0.1·(batch mean, batch variance) in them, and each is
// then set to its batch value, moved a little.
void calibrate_batchnorms(Model& m, Algorithm& algo, const Tensor& x, uint64_t seed) {
  Rng rng(seed);
  std::vector<BatchNorm*> bns;
  for (Layer* l : m.layers())
    if (auto* bn = dynamic_cast<BatchNorm*>(l)) {
      bns.push_back(bn);
      for (int64_t c = 0; c < bn->channels(); ++c) {
        bn->running_mean()->value[c] = 0.0f;
        bn->running_var()->value[c] = 1.0f;
        bn->weight()->value[c] = 0.5f + rng.uniform();
        bn->bias()->value[c] = 0.2f * rng.normal();
      }
    }
  algo.begin_eval();
  Context ctx;
  ctx.training = true;
  m.forward(x, ctx);
  algo.end_eval();
  for (BatchNorm* bn : bns)
    for (int64_t c = 0; c < bn->channels(); ++c) {
      const float mean = bn->running_mean()->value[c] / 0.1f;
      const float var = std::max(1e-3f, (bn->running_var()->value[c] - 0.9f) / 0.1f);
      bn->running_mean()->value[c] = mean + 0.2f * std::sqrt(var) * rng.normal();
      bn->running_var()->value[c] = var * (0.8f + 0.4f * rng.uniform());
    }
}

Tensor test_images(const DataSplits& data) {
  std::vector<int64_t> idx(static_cast<size_t>(data.test.size()));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  Batch b;
  make_batch(data.test, idx, data.norm, Augmentation{}, 0, b);
  return b.x;
}

struct Compared {
  int64_t images = 0, same_class = 0;
  double worst = 0.0;  // max |packed − float| / (1 + max |float|)
};

Compared compare(const Tensor& want, const Tensor& got) {
  REQUIRE(want.shape() == got.shape());
  Compared r;
  r.images = want.dim(0);
  const int64_t k = want.dim(1);
  double scale = 0.0;
  for (int64_t i = 0; i < want.size(); ++i) scale = std::max(scale, std::abs(double(want[i])));
  for (int64_t n = 0; n < r.images; ++n) {
    const float* a = want.data() + n * k;
    const float* b = got.data() + n * k;
    r.same_class += std::max_element(a, a + k) - a == std::max_element(b, b + k) - b;
    for (int64_t j = 0; j < k; ++j)
      r.worst = std::max(r.worst, std::abs(double(a[j]) - b[j]) / (1.0 + scale));
  }
  return r;
}

// The package of `source` loaded into a fresh model, run by float evaluation and by the packed
// engine on the test images. Returns the engine's plan for the checks on kernels.
std::vector<PackedLayerInfo> check_package(Trainer& source, const TrainConfig& cfg,
                                           const DataSplits& data, bool end_to_end = true) {
  PackedNetwork net = pack_network(source.model(), source.algorithm());
  Trainer packaged(cfg, data);
  unpack_network(packaged.model(), json::parse(net.tensors.dump()), net.blob, "package");
  PackedRunner runner(packaged.model(), quantized_weights(net.tensors), true, "package");
  const Tensor x = test_images(data);
  Context ctx;
  ctx.training = false;
  const Tensor want = packaged.model().forward(x, ctx);
  // Layer by layer, each on float evaluation's input: to float rounding.
  std::vector<double> worst;
  const Compared forced = compare(want, runner.forward_checked(x, worst));
  CHECK(forced.worst <= kLayerTol);
  for (size_t i = 0; i < worst.size(); ++i)
    CHECK_MESSAGE(worst[i] <= kLayerTol, runner.layers()[i].name << " differs by " << worst[i]);
  // End to end
  const Compared c = compare(want, runner.forward(x));
  if (!end_to_end) return runner.layers();
  CHECK_MESSAGE(c.same_class == c.images, (c.images - c.same_class)
                                              << " of " << c.images << " images change class");
  CHECK_MESSAGE(c.worst <= kTol, "logits differ by " << c.worst << " of their scale");
  return runner.layers();
}

}  // namespace

TEST_CASE("the packed engine gives float evaluation's classes and logits: every packable method") {
  set_threads(0);
  int cases = 0;
  for (std::string model : {"lenet5-bn", "mlp-bn", "lenet5", "vgg11", "resnet20", "resnet18"})
    for (const Method& m : kMethods)
      for (const Act& a : kActs) {
        const bool big = model == "vgg11" || model == "resnet20" || model == "resnet18";
        if (big && (a.act == "binary-bireal" || a.bits == 4 || m.algo == "proxybnn" ||
                    m.algo == "iterative" || m.algo == "bwn" || m.algo == "binaryrelax"))
          continue;  // the same kernels as their neighbours in the table, on a smaller network
        const std::string label =
            model + " / " + m.label + " / " + a.act + (a.bits ? std::to_string(a.bits) : "");
        CAPTURE(label);
        const json config = config_for(model, m, a, 1);
        validate_config(config);
        const TrainConfig cfg = to_train_config(config);
        const DataSplits data = load_splits(cfg.data);
        Trainer source(cfg, data);
        calibrate_batchnorms(source.model(), source.algorithm(), test_images(data),
                             static_cast<uint64_t>(++cases));
        // End to end on all but the deep networks with b-bit activations: there, any other float
        // summation order moves a few activations across a quantizer step, and the network
        // amplifies them (qtrain's own Winograd and im2col paths differ by up to 20% there);
        // their layers are checked one by one.
        const bool end_to_end = !(big && a.act == "quant");
        const std::vector<PackedLayerInfo> plan = check_package(source, cfg, data, end_to_end);
        // Every quantized layer runs packed, those after the first on the activation's kernel
        int packed = 0, on_act_kernel = 0, fused = 0;
        for (const PackedLayerInfo& l : plan) {
          if (l.weights == "float") continue;
          ++packed;
          CHECK_MESSAGE(l.kernel != "float", l.name);
          // a float input: sign-selected additions for linear layers, expanded signs for convs
          const bool float_linear = l.input == "float" && l.kind == "linear";
          if (l.input == "float")
            CHECK_MESSAGE(l.kernel == std::string(float_linear ? "signselect" : "expanded"),
                          l.name);
          on_act_kernel +=
              l.kernel == std::string(a.kernel) || (float_linear && a.act == "hardtanh");
          fused += !l.fused.empty();
        }
        if (m.algo != "iterative") CHECK(packed >= 2);  // iterative starts with one binary layer
        if (packed >= 2) CHECK(on_act_kernel >= 1);
        // conv → sign → conv runs fused (VGG-11's blocks, ResNet-20's bodies), and end to end
        // above: the fused path is what forward runs
        if (a.act.rfind("binary", 0) == 0 && big) CHECK(fused >= 1);
        // and the ResNets' stems, whose signs (max-pooled in ResNet-18) go to a residual block,
        // pack them and unpack ±1 for the identity shortcut; ResNet-18's downsampling convs
        // share their block's packed input
        if (a.act.rfind("binary", 0) == 0 && model.rfind("resnet", 0) == 0)
          CHECK(plan[0].fused.find("unpacked") != std::string::npos);
      }
  CHECK(cases == 3 * 7 * 5 + 3 * 3 * 3);
}

TEST_CASE("after a short training run too (LeNet-5, MLP with BatchNorm)") {
  set_threads(0);
  for (std::string model : {"lenet5-bn", "mlp-bn"})
    for (const Method& m : {kMethods[0], kMethods[2], kMethods[4]})
      for (const Act& a : {kActs[0], kActs[3]}) {
        CAPTURE(model + " / " + m.label + " / " + a.act);
        const json config = config_for(model, m, a, 2);
        const TrainConfig cfg = to_train_config(config);
        const DataSplits data = load_splits(cfg.data);
        Trainer source(cfg, data);
        REQUIRE(source.run([](const json&) {}, {}, nullptr));
        check_package(source, cfg, data);
      }
}

TEST_CASE("a package whose quantized layers are not binary or ternary names the layer") {
  const Method m{"ste 4-bit", "ste", {{"bits", 4}}};
  const json config = config_for("lenet5", m, kActs[0], 1);
  const TrainConfig cfg = to_train_config(config);
  const DataSplits data = load_splits(cfg.data);
  Trainer source(cfg, data);
  PackedNetwork net = pack_network(source.model(), source.algorithm());
  Trainer packaged(cfg, data);
  unpack_network(packaged.model(), net.tensors, net.blob, "package");
  try {
    PackedRunner runner(packaged.model(), quantized_weights(net.tensors), true,
                        "pkg/manifest.json");
    FAIL("a 4-bit layer ran packed");
  } catch (const DataError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("pkg/manifest.json: layer 'conv1' cannot run packed") != std::string::npos);
    CHECK(msg.find("binary and ternary weights only") != std::string::npos);
  }
  // Not strict: the plan records why, and the layer runs in float.
  PackedRunner lenient(packaged.model(), quantized_weights(net.tensors), false, "pkg");
  REQUIRE(!lenient.layers().empty());
  CHECK(lenient.layers()[0].kernel == "float");
  CHECK(!lenient.layers()[0].why.empty());
}

TEST_CASE("loaded binary weights take at most 1/25 of their float size (VGG-11, W1A1)") {
  const json config = config_for("vgg11", kMethods[0], kActs[0], 1);
  const TrainConfig cfg = to_train_config(config);
  const DataSplits data = load_splits(cfg.data);
  Trainer source(cfg, data);
  PackedNetwork net = pack_network(source.model(), source.algorithm());
  Trainer packaged(cfg, data);
  unpack_network(packaged.model(), net.tensors, net.blob, "package");
  PackedRunner runner(packaged.model(), quantized_weights(net.tensors), true, "package");
  CHECK(runner.weight_bytes() * 25 <= runner.float_weight_bytes());
}
