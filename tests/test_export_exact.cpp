// A package evaluates exactly as its checkpoint: for every algorithm, every activation and a model
// with and without BatchNorm, the logits of a batch from `qtrain export`'s package equal the
// checkpoint's bit for bit. Tiny runs on synthetic data, in memory (the checkpoint and the
// manifest go through their serialized forms; test_export runs the files and the command).
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>

#include "app/config/config.h"
#include "app/package/export_package.h"
#include "app/train/trainer.h"
#include "datasets/registry.h"
#include "engine/core/parallel.h"
#include "engine/quant/act_quantizer.h"

using namespace qt;
using json = nlohmann::json;

namespace {

struct Method {
  std::string label, algo;
  json overrides;      // algo.* keys
  int epochs;          // 0: as many as the model's layers (iterative binarizes one per epoch)
  int stop_after = 0;  // > 0: stop the run after this many epochs (a run left inside phase I)
};

const std::vector<Method>& methods() {
  static const std::vector<Method> m = {
      {"float", "float", json::object(), 1},
      {"binaryconnect", "binaryconnect", json::object(), 1},
      {"bwn", "bwn", json::object(), 1},
      {"ste 2-bit", "ste", {{"bits", 2}}, 1},
      {"binaryrelax phase I", "binaryrelax", {{"phase2_epoch", 1}}, 2, 1},
      {"binaryrelax phase II", "binaryrelax", {{"phase2_epoch", 1}}, 2},
      {"bcgd", "bcgd", {{"rho", 0.01}}, 2},
      {"iterative", "iterative", {{"epochs_per_layer", 1}}, 0},
      {"proxybnn", "proxybnn", json::object(), 1},
  };
  return m;
}

struct Act {
  std::string act;
  int bits;  // quant only
};
const Act kActs[] = {{"relu", 0},          {"hardtanh", 0}, {"binary", 0},
                     {"binary-bireal", 0}, {"quant", 2},    {"quant", 4}};

json tiny_config(const std::string& model, const Method& m, const Act& a) {
  json c = default_config();
  c["model"] = model;
  c["data"]["name"] = "synthetic";
  c["data"]["synthetic"]["size"] = {96, 64};
  // LeNet-5 takes 28×28 images; the MLP takes any, and small ones keep it fast.
  if (model.rfind("mlp", 0) == 0) c["data"]["synthetic"]["shape"] = {1, 8, 8};
  c["data"]["val_size"] = 0;
  c["batch_size"] = 32;
  c["lr"] = 0.05;
  c["epochs"] = m.epochs > 0 ? m.epochs : (model.rfind("mlp", 0) == 0 ? 3 : 5);
  c["algo"]["name"] = m.algo;
  for (auto& [k, v] : m.overrides.items()) c["algo"][k] = v;
  c["algo"]["act"] = a.act;
  if (a.bits) c["algo"]["act_bits"] = a.bits;
  return c;
}

// Logits of the first 64 test images, with the network as `algo` evaluates it (none: as it is).
Tensor logits(Trainer& t, const DataSplits& data, Algorithm* algo) {
  std::vector<int64_t> idx(64);
  for (int64_t i = 0; i < 64; ++i) idx[i] = i;
  Batch b;
  make_batch(data.test, idx, data.norm, Augmentation{}, 0, b);
  Context ctx;
  ctx.training = false;
  if (algo) algo->begin_eval();
  Tensor y = t.model().forward(b.x, ctx);
  if (algo) algo->end_eval();
  return y;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

std::vector<ActQuantizer*> act_quantizers(Model& m) {
  std::vector<ActQuantizer*> r;
  for (Layer* l : m.layers())
    if (auto* q = dynamic_cast<ActQuantizer*>(l)) r.push_back(q);
  return r;
}

}  // namespace

TEST_CASE("package logits equal checkpoint logits bit for bit: every algorithm, activation, BN") {
  set_threads(0);
  int cases = 0, learned_alpha = 0;
  for (std::string model : {"mlp", "mlp-bn", "lenet5", "lenet5-bn"})
    for (const Method& m : methods())
      for (const Act& a : kActs) {
        const std::string label =
            model + " / " + m.label + " / " + a.act + (a.bits ? std::to_string(a.bits) : "");
        CAPTURE(label);
        const json config = tiny_config(model, m, a);
        validate_config(config);
        const TrainConfig cfg = to_train_config(config);
        const DataSplits data = load_splits(cfg.data);
        Trainer trained(cfg, data);
        std::atomic<bool> stop{false};
        int epochs_run = 0;
        const bool done = trained.run(
            [&](const json&) { stop = m.stop_after > 0 && ++epochs_run >= m.stop_after; }, {},
            &stop);
        REQUIRE(done == (m.stop_after == 0));
        const Checkpoint ckpt =
            parse_checkpoint(serialize_checkpoint(trained.snapshot()), "the checkpoint");

        // `qtrain eval RUN`: the checkpoint restored, evaluated by its algorithm
        Trainer restored(cfg, data);
        restored.restore(ckpt);
        const Tensor from_ckpt = logits(restored, data, &restored.algorithm());
        // `qtrain export`: packed from the checkpoint; `qtrain eval PACKAGE`: a fresh model filled
        // from the package and nothing else
        Trainer exporter(cfg, data);
        exporter.restore(ckpt);
        PackedNetwork net = pack_network(exporter.model(), exporter.algorithm());
        Trainer packaged(cfg, data);
        unpack_network(packaged.model(), json::parse(net.tensors.dump(1)), net.blob, "package");
        const Tensor from_pkg = logits(packaged, data, nullptr);
        CHECK(same_bits(from_ckpt, from_pkg));
        ++cases;

        // Learned α: trained away from its start, and it matters. Put back at its initial value
        // (what evaluation once ran with), the logits change.
        if (a.act != "quant") continue;
        const float start = alpha_table(a.bits);
        auto trained_q = act_quantizers(restored.model());
        auto loaded_q = act_quantizers(packaged.model());
        REQUIRE(!trained_q.empty());
        REQUIRE(trained_q.size() == loaded_q.size());
        bool moved = false;
        for (size_t i = 0; i < trained_q.size(); ++i) {
          CHECK(loaded_q[i]->alpha_value() == trained_q[i]->alpha_value());
          moved = moved || trained_q[i]->alpha_value() != start;
        }
        CHECK(moved);
        for (ActQuantizer* q : loaded_q) q->alpha()->value[0] = start;
        CHECK(!same_bits(from_ckpt, logits(packaged, data, nullptr)));
        ++learned_alpha;
      }
  CHECK(cases == 4 * 9 * 6);
  CHECK(learned_alpha == 4 * 9 * 2);
}
