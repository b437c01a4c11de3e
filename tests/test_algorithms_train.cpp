// Every algorithm of docs/math.md §3 trains LeNet-5 on a Fashion-MNIST subset: accuracy above a
// stated floor, every quantized layer of the evaluated network within its set, BCGD with ρ = 0
// bit-identical to ste, BCGD's ρ > 0 step against a hand computation, exact mid-epoch resume of the
// step-scheduled algorithms, and the sensitivity pre-training feeding Iterative Training's order.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "app/cli/cmd_sensitivity.h"
#include "app/config/config.h"
#include "app/train/trainer.h"
#include "engine/core/parallel.h"
#include "engine/quant/iterative.h"
#include "engine/quant/projection.h"
#include "engine/quant/quant_algorithm.h"

using namespace qt;
using json = nlohmann::json;

namespace {

DataRequest subset() {
  DataRequest d;
  d.name = "fashion-mnist";
  d.val_size = 1000;
  d.limit_train = 2000;
  d.limit_test = 1000;
  return d;
}

const DataSplits& data() {
  static const DataSplits d = [] {
    set_threads(0);
    return load_splits(subset());
  }();
  return d;
}

TrainConfig config(const std::string& algo, int epochs, const std::string& model = "lenet5") {
  TrainConfig c;
  c.model = model;
  c.data = subset();
  c.epochs = epochs;
  c.batch_size = 64;
  c.lr = 2e-3f;
  c.optimizer.name = "adam";
  c.seed = 5;
  c.algo.name = algo;
  return c;
}

// The records without timing (the only field that is not deterministic).
std::vector<json> train(Trainer& t) {
  std::vector<json> recs;
  t.run([&](const json& r) {
    json d = r;
    d.erase("timing");
    recs.push_back(d);
  });
  return recs;
}

// Every quantized layer of the evaluated network holds at most the values its set allows.
void check_in_sets(Trainer& t, bool expect_quantized) {
  Algorithm& a = t.algorithm();
  a.begin_eval();
  auto qp = a.quantized_params();
  CHECK(qp.empty() != expect_quantized);
  for (auto& [p, n] : qp) {
    const int64_t got = distinct_values(p->used.span());
    CHECK_MESSAGE(got <= n, a.name() << ": " << p->name << " holds " << got
                                     << " distinct values, its set allows " << n);
  }
  a.end_eval();
  const json summary = check_quantized_sets(a);
  CHECK(summary["ok"] == true);
  CHECK(summary["layers"].size() == qp.size());
}

}  // namespace

TEST_CASE("every algorithm trains LeNet-5 on Fashion-MNIST and ends inside its sets") {
  struct Case {
    std::string algo, model;
    int epochs;
    double floor;  // test accuracy that the run must exceed
    std::function<void(TrainConfig&)> tweak;
  };
  const std::vector<Case> cases = {
      {"float", "lenet5", 3, 0.72, {}},
      {"binaryconnect", "lenet5-bn", 3, 0.65, [](TrainConfig& c) { c.lr = 5e-3f; }},
      {"bwn", "lenet5", 3, 0.65, {}},
      {"ste", "lenet5", 3, 0.65, [](TrainConfig& c) { c.algo.projection = "ternary"; }},
      {"binaryrelax", "lenet5", 3, 0.65, [](TrainConfig& c) { c.algo.phase2_epoch = 2; }},
      {"bcgd", "lenet5", 3, 0.60, {}},
      // sign(w) without a scale needs BatchNorm, as in the reference code (also on the logits)
      {"iterative", "lenet5-bn", 5, 0.60,
       [](TrainConfig& c) {
         c.algo.epochs_per_layer = 1;
         c.model_options.logit_bn = true;
       }},
      {"proxybnn", "lenet5", 3, 0.65, {}},
      {"bwn", "lenet5-bn", 3, 0.50, [](TrainConfig& c) { c.algo.act = "binary"; }},
  };
  for (const Case& k : cases) {
    TrainConfig c = config(k.algo, k.epochs, k.model);
    if (k.tweak) k.tweak(c);
    const auto t0 = std::chrono::steady_clock::now();
    Trainer t(c, data());
    auto recs = train(t);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const json& last = recs.back();
    const double acc = last["test_acc"].get<double>();
    MESSAGE(k.algo << " (" << k.model << (c.algo.act != "default" ? ", act " + c.algo.act : "")
                   << "): test accuracy " << acc << " after " << k.epochs << " epochs, " << secs
                   << " s");
    CHECK_MESSAGE(acc > k.floor, k.algo << " on " << k.model << ": " << last.dump());
    check_in_sets(t, k.algo != "float");
    if (k.algo != "float") {
      CHECK(last["algorithm"].contains("proj_error"));
      CHECK(last["algorithm"].contains("flip_ratio_total"));
    }
    if (k.algo == "binaryrelax") {
      // Phase I: λ = 1.04^(e+1), and the accuracy at Q(w) besides the one at u.
      CHECK(recs[0]["algorithm"]["lambda"].get<double>() == doctest::Approx(1.04));
      CHECK(recs[1]["algorithm"]["lambda"].get<double>() == doctest::Approx(1.04 * 1.04));
      CHECK(recs[1]["algorithm"]["eval"]["quantized"].contains("test_acc"));
      CHECK(recs[1]["algorithm"]["eval"]["quantized"].contains("val_acc"));
      CHECK(!recs[2]["algorithm"].contains("eval"));
      CHECK(recs[2]["algorithm"]["phase"] == 2);
    }
    if (k.algo == "bcgd") CHECK(last["algorithm"]["alpha"].size() == 4);
    if (k.algo == "iterative") {
      CHECK(recs[0]["algorithm"]["binary_layers"] == json::array({"conv1"}));
      CHECK(recs[4]["algorithm"]["binary_layers"].size() == 5);
    }
  }
}

TEST_CASE("bcgd with ρ = 0 is bit-identical to ste") {
  auto run = [](const std::string& algo) {
    TrainConfig c = config(algo, 2);
    c.optimizer = {};  // SGD, momentum 0.9
    c.optimizer.momentum = 0.95f;
    c.optimizer.weight_decay = 1e-4f;
    c.lr = 0.05f;
    c.algo.rho = 0;
    c.algo.act = "quant";
    c.algo.layers = {"conv"};
    Trainer t(c, data());
    auto recs = train(t);
    for (auto& r : recs) r["algorithm"].erase("rho");
    std::vector<float> w(t.model().params.values().data(),
                         t.model().params.values().data() + t.model().params.values().size());
    return std::pair{recs, w};
  };
  auto [ra, wa] = run("bcgd");
  auto [rb, wb] = run("ste");
  CHECK(ra == rb);
  CHECK(wa == wb);
}

TEST_CASE("bcgd with ρ > 0: each step blends w, then takes the momentum SGD step, by hand") {
  // The trainer's own loop on LeNet-5, three steps: w ← (1 − ρ)·w + ρ·Q(w), then the SGD step
  // with the gradient taken at Q(w) and weight decay on the blended w:
  //   d = g + wd·w,  b = d (first step) or μ·b + d,  w ← w − lr·b.
  const double rho = 0.25, mu = 0.9, wd = 0.01, lr = 0.05;
  TrainConfig c = config("bcgd", 1);
  c.optimizer = {};
  c.optimizer.name = "sgd";
  c.optimizer.momentum = static_cast<float>(mu);
  c.optimizer.weight_decay = static_cast<float>(wd);
  c.lr = static_cast<float>(lr);
  c.schedule = {};  // constant
  c.algo.rho = rho;
  c.algo.rho_rate = 1;
  c.algo.rho_max = 1;
  c.algo.act = "relu";
  Trainer t(c, data());
  auto& algo = dynamic_cast<QuantAlgorithm&>(t.algorithm());
  REQUIRE(algo.targets().size() == 2);  // conv1, conv2
  struct Track {
    Param* p;
    std::vector<double> w, b;  // w before the step; the momentum buffer, in double
  };
  std::vector<Track> tracks;
  for (auto& target : algo.targets()) {
    Param* p = target.param;
    REQUIRE(p->decay);
    tracks.push_back(
        {p, std::vector<double>(p->value.data(), p->value.data() + p->value.size()), {}});
  }
  std::atomic<bool> stop{false};
  int steps = 0;
  t.run([](const json&) {},
        [&](const TrainProgress&) {
          for (Track& k : tracks) {
            const size_t n = k.w.size();
            // Q(w) written out: α = mean|w| over the layer, α·sign(w), sign(0) = +1.
            double sum = 0;
            for (double x : k.w) sum += std::fabs(x);
            const double alpha = static_cast<float>(sum / static_cast<double>(n));
            int used_off = 0, off = 0, other_order_off = 0;
            if (k.b.empty()) k.b.assign(n, 0.0);
            for (size_t i = 0; i < n; ++i) {
              const double q = k.w[i] >= 0 ? alpha : -alpha, g = k.p->grad[i];
              used_off += std::fabs(k.p->used[i] - q) > 1e-6 * alpha;
              const double blended = (1 - rho) * k.w[i] + rho * q;
              const double d = g + wd * blended;
              const double b = steps == 0 ? d : mu * k.b[i] + d;
              const double want = blended - lr * b;
              const double tol = 1e-6 * (std::fabs(k.w[i]) + alpha);
              off += std::fabs(k.p->value[i] - want) > tol;
              // The other order (step, then blend) lands elsewhere: the test can tell them apart.
              const double d2 = g + wd * k.w[i], b2 = steps == 0 ? d2 : mu * k.b[i] + d2;
              other_order_off +=
                  std::fabs((1 - rho) * (k.w[i] - lr * b2) + rho * q - k.p->value[i]) > tol;
              k.b[i] = b;
              k.w[i] = k.p->value[i];
            }
            CHECK_MESSAGE(used_off == 0, k.p->name << ": the forward did not read Q(w)");
            CHECK_MESSAGE(off == 0, k.p->name << " at step " << steps + 1 << ": " << off << " of "
                                              << n << " weights differ from the hand computation");
            CHECK(other_order_off > static_cast<int>(n / 2));
          }
          if (++steps == 3) stop = true;
        },
        &stop);
  CHECK(steps == 3);
}

TEST_CASE("a mid-epoch resume continues exactly (step-scheduled relaxations, α calibration)") {
  auto cfg_a = config("bcgd", 3);
  cfg_a.algo.relax = true;
  cfg_a.algo.relax_until = 2;
  cfg_a.algo.alpha_stage = 1;
  cfg_a.algo.rho = 1e-3;
  auto cfg_b = config("binaryrelax", 3);
  cfg_b.algo.lambda_schedule = LambdaSchedule::Linear;
  cfg_b.algo.phase2_epoch = 2;
  auto cfg_c = config("iterative", 3);
  cfg_c.algo.epochs_per_layer = 1;
  cfg_c.algo.layers = {"conv1", "fc1", "fc2"};
  cfg_c.algo.order = "random";
  for (const TrainConfig& c : {cfg_a, cfg_b, cfg_c}) {
    Trainer whole(c, data());
    const auto want = train(whole);
    std::atomic<bool> stop{false};
    std::vector<json> got;
    Trainer first(c, data());
    const bool finished = first.run(
        [&](const json& r) {
          json d = r;
          d.erase("timing");
          got.push_back(d);
        },
        [&](const TrainProgress& p) {
          if (p.epoch == 1 && p.batch == 7) stop = true;
        },
        &stop);
    REQUIRE(!finished);
    const Checkpoint ck = first.snapshot();
    Trainer second(c, data());
    second.restore(ck);
    for (auto& r : train(second)) got.push_back(r);
    CHECK_MESSAGE(got == want, c.algo.name);
  }
}

TEST_CASE(
    "sensitivity pre-training: one run per layer, the same for any job count, read by --order") {
  json cfg = default_config();
  set_value(cfg, "model", "lenet5", "test");
  set_value(cfg, "epochs", 1, "test");
  set_value(cfg, "batch_size", 64, "test");
  set_value(cfg, "lr", 2e-3, "test");
  set_value(cfg, "optimizer.name", "adam", "test");
  set_value(cfg, "data.val_size", 1000, "test");
  set_value(cfg, "data.limit_train", 1000, "test");
  set_value(cfg, "data.limit_test", 200, "test");
  validate_config(cfg);
  auto timed =
      [&](int jobs) {
        const auto t0 = std::chrono::steady_clock::now();
        SensitivityReport r = run_sensitivity(cfg, jobs);
        MESSAGE("sensitivity with "
                << jobs << " job(s): "
                << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                << " s");
        return r;
      };
  const SensitivityReport two = timed(2), one = timed(1);
  REQUIRE(two.layers.size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    CHECK(two.layers[i].layer == one.layers[i].layer);
    CHECK(two.layers[i].val_acc == one.layers[i].val_acc);
    CHECK(two.layers[i].val_loss == one.layers[i].val_loss);
    CHECK(two.layers[i].val_acc > 0.3);
  }
  const std::string path =
      (std::filesystem::temp_directory_path() / "qtrain_test_sens_train.json").string();
  write_sensitivity(path, two);
  const auto order = sensitivity_order(two, true);
  TrainConfig c = config("iterative", 1);
  c.algo.epochs_per_layer = 1;
  c.algo.order = "sensitivity-ascending:" + path;
  Trainer t(c, data());
  auto recs = train(t);
  CHECK(recs[0]["algorithm"]["binary_layers"] == json::array({order[0]}));
  std::filesystem::remove(path);
}
