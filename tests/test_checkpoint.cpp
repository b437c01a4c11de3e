// Checkpoints: exact round trip, exact resume (at an epoch end and mid-epoch), every algorithm's
// state (λ, phase, ρ, η, α, binary layers, P, Adam's moments) through a file, and clear errors
// for truncated, corrupt, foreign and newer files, none of them loaded half-way.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "app/train/checkpoint.h"
#include "app/train/trainer.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/parallel.h"
#include "engine/quant/iterative.h"
#include "engine/quant/quant_algorithm.h"

using namespace qt;
using json = nlohmann::json;

namespace {

TrainConfig tiny_config() {
  TrainConfig c;
  c.model = "lenet5";
  c.data.name = "fashion-mnist";
  c.data.val_size = 200;
  c.data.limit_train = 640;
  c.data.limit_test = 300;
  c.epochs = 3;
  c.batch_size = 64;
  c.lr = 0.05f;
  c.seed = 3;
  return c;
}

json strip(json r) {
  r.erase("timing");
  return r;
}

// Whether a tensor holds something other than zeros (an optimizer state that was used).
bool any_nonzero(const Tensor& t) {
  for (int64_t i = 0; i < t.size(); ++i)
    if (t[i] != 0) return true;
  return false;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no DataError)";
}

}  // namespace

TEST_CASE("checkpoint bytes round-trip exactly") {
  Checkpoint c;
  c.meta = {{"epoch", 2}, {"x", 0.1}};
  Tensor t({2, 3});
  for (int i = 0; i < 6; ++i) t[i] = 0.1f * i - 0.25f;
  c.tensors.emplace_back("param/a", t);
  Checkpoint d = parse_checkpoint(serialize_checkpoint(c), "mem");
  CHECK(d.meta == c.meta);
  REQUIRE(d.find("param/a"));
  CHECK(d.find("param/a")->shape() == Shape{2, 3});
  CHECK(std::memcmp(d.find("param/a")->data(), t.data(), 6 * sizeof(float)) == 0);
}

TEST_CASE("every truncation, a flipped bit, a foreign file and a newer version are refused") {
  Checkpoint c;
  c.meta = {{"epoch", 1}};
  c.tensors.emplace_back("param/w", Tensor({4, 4}));
  const std::string good = serialize_checkpoint(c);
  for (size_t n = 0; n < good.size(); ++n) {
    std::string m = message_of([&] { parse_checkpoint(good.substr(0, n), "ck"); });
    INFO("truncated to " << n << " bytes: " << m);
    CHECK(m.find("checkpoint ck") == 0);
  }
  for (size_t i = 8; i < good.size(); i += 7) {
    std::string bad = good;
    bad[i] ^= 0x10;
    std::string m = message_of([&] { parse_checkpoint(bad, "ck"); });
    INFO("bit flip at " << i << ": " << m);
    CHECK(m.find("checkpoint ck") == 0);
  }
  CHECK(message_of([&] {
          parse_checkpoint("PK\x03\x04 a zip file, not ours", "ck");
        }).find("not a qtrain checkpoint") != std::string::npos);
  std::string newer = good;
  newer[8] = 99;
  CHECK(message_of([&] { parse_checkpoint(newer, "ck"); }).find("newer than this qtrain") !=
        std::string::npos);
  CHECK(message_of([&] { load_checkpoint("/nonexistent/last.ckpt"); }).find("no such file") !=
        std::string::npos);
  CHECK(message_of([&] { load_checkpoint("/tmp"); }).find("is a directory") != std::string::npos);
}

TEST_CASE("resume at an epoch end and mid-epoch ends with exactly the uninterrupted metrics") {
  set_threads(2);
  TrainConfig cfg = tiny_config();
  DataSplits data = load_splits(cfg.data);
  std::vector<json> straight;
  {
    Trainer t(cfg, data);
    t.run([&](const json& r) { straight.push_back(strip(r)); });
  }
  REQUIRE(straight.size() == 3);

  // Stop after 13 steps (mid epoch 2), through a file, into a fresh trainer.
  std::vector<json> resumed;
  std::string path = std::filesystem::temp_directory_path() / "qtrain-test-resume.ckpt";
  {
    Trainer t(cfg, data);
    std::atomic<bool> stop{false};
    int steps = 0;
    bool done = t.run([&](const json& r) { resumed.push_back(strip(r)); },
                      [&](const TrainProgress&) {
                        if (++steps == 13) stop = true;
                      },
                      &stop);
    CHECK_FALSE(done);
    CHECK(t.step() == 13);
    save_checkpoint(t.snapshot(), path);
  }
  {
    Trainer t(cfg, data);
    t.restore(load_checkpoint(path));
    CHECK(t.run([&](const json& r) { resumed.push_back(strip(r)); }));
  }
  std::filesystem::remove(path);
  REQUIRE(resumed.size() == 3);
  for (int e = 0; e < 3; ++e) CHECK(resumed[e] == straight[e]);
}

TEST_CASE("a checkpoint of another model is refused before anything changes") {
  set_threads(2);
  TrainConfig cfg = tiny_config();
  cfg.epochs = 1;
  DataSplits data = load_splits(cfg.data);
  Trainer a(cfg, data);
  Checkpoint c = a.snapshot();
  TrainConfig other = cfg;
  other.model = "mlp";
  Trainer b(other, data);
  Checkpoint before = b.snapshot();
  std::string m = message_of([&] { b.restore(c); });
  INFO(m);
  CHECK((m.find("has no tensor") != std::string::npos || m.find("has shape") != std::string::npos));
  Checkpoint after = b.snapshot();
  CHECK(serialize_checkpoint(after) == serialize_checkpoint(before));
}

namespace {

// The checkpoint without the fields that measure time.
std::string timeless(Checkpoint c) {
  c.meta.erase("train_seconds");
  return serialize_checkpoint(c);
}

// Each algorithm with Adam, set up so that its epoch- and step-dependent state is not trivial
// when it stops in epoch 2.
std::vector<TrainConfig> algorithm_configs() {
  std::vector<TrainConfig> cs;
  auto add = [&](const std::string& algo, auto&& set) {
    TrainConfig c = tiny_config();
    c.optimizer.name = "adam";
    c.lr = 2e-3f;
    c.algo.name = algo;
    set(c.algo);
    cs.push_back(c);
  };
  add("binaryrelax", [](AlgoOptions& a) {  // phase I, θ rising per step
    a.lambda_schedule = LambdaSchedule::Linear;
    a.phase2_epoch = 2;
  });
  add("binaryrelax", [](AlgoOptions& a) { a.phase2_epoch = 1; });  // phase II
  add("bcgd", [](AlgoOptions& a) {  // α calibrated in epoch 1, learned after; ρ and η growing
    a.relax = true;
    a.relax_until = 2;
    a.alpha_stage = 1;
    a.rho = 1e-3;
    a.rho_rate = 2;
  });
  add("iterative", [](AlgoOptions& a) {
    a.epochs_per_layer = 1;
    a.layers = {"conv1", "fc1", "fc2"};
    a.order = "random";
  });
  add("proxybnn", [](AlgoOptions&) {});
  return cs;
}

}  // namespace

TEST_CASE(
    "every algorithm's state goes through a checkpoint file and back, and training goes on "
    "bit for bit") {
  set_threads(2);
  const DataSplits data = load_splits(tiny_config().data);
  const std::string path =
      std::filesystem::temp_directory_path() / ("qtrain-test-state-" + std::to_string(getpid()));
  for (const TrainConfig& cfg : algorithm_configs()) {
    INFO(cfg.algo.name << ", phase2_epoch " << cfg.algo.phase2_epoch);
    // Stopped at epoch 2, batch 3; then a fresh trainer (new model, algorithm and optimizer)
    // from the file.
    Trainer a(cfg, data);
    std::atomic<bool> stop{false};
    std::vector<json> recs_a, recs_b;
    REQUIRE_FALSE(a.run([&](const json& r) { recs_a.push_back(strip(r)); },
                        [&](const TrainProgress& p) {
                          if (p.epoch == 1 && p.batch == 3) stop = true;
                        },
                        &stop));
    save_checkpoint(a.snapshot(), path);
    Trainer b(cfg, data);
    b.restore(load_checkpoint(path));
    recs_b = recs_a;

    CHECK(b.epoch() == a.epoch());
    CHECK(b.step() == a.step());
    CHECK(b.optimizer().steps() == a.optimizer().steps());
    CHECK(b.optimizer().steps() > 0);
    // Every tensor (weights, BatchNorm statistics, Adam's m and v, ProxyBNN's P, the flip
    // references) and the position, bit for bit.
    CHECK(timeless(b.snapshot()) == timeless(a.snapshot()));
    const auto moments = b.optimizer().state();
    REQUIRE(moments.size() == 2);
    CHECK(moments[0].first == "adam.m");
    CHECK(moments[1].first == "adam.v");
    for (size_t i = 0; i < 2; ++i) {
      const Tensor& mine = *a.optimizer().state()[i].second;
      CHECK(std::memcmp(moments[i].second->data(), mine.data(), mine.size() * sizeof(float)) == 0);
      CHECK(any_nonzero(mine));
    }
    // The state the algorithm derives from its position: λ and θ and the phase, ρ and η, α and
    // whether it is learned, the binary layers, whether the network is fully quantized.
    CHECK(b.algorithm().state_json() == a.algorithm().state_json());
    const json ra = a.algorithm().epoch_record(), rb = b.algorithm().epoch_record();
    std::vector<std::string> keys = {"fully_quantized"};
    if (cfg.algo.name == "binaryrelax") {
      keys.push_back("phase");
      CHECK(ra["phase"] == (cfg.algo.phase2_epoch == 1 ? 2 : 1));
    }
    if (cfg.algo.name == "binaryrelax" && cfg.algo.phase2_epoch == 2)
      keys.insert(keys.end(), {"lambda", "theta"});
    if (cfg.algo.name == "bcgd") keys.insert(keys.end(), {"rho", "eta", "alpha", "alpha_learned"});
    if (cfg.algo.name == "iterative") keys.push_back("binary_layers");
    for (const std::string& k : keys) {
      INFO(k);
      REQUIRE(ra.contains(k));
      CHECK(rb.contains(k));
      CHECK(rb[k] == ra[k]);
    }
    if (cfg.algo.name == "bcgd") {
      auto& qa = dynamic_cast<QuantAlgorithm&>(a.algorithm());
      auto& qb = dynamic_cast<QuantAlgorithm&>(b.algorithm());
      REQUIRE(qa.act_quantizers().size() == qb.act_quantizers().size());
      REQUIRE_FALSE(qa.act_quantizers().empty());
      for (size_t i = 0; i < qa.act_quantizers().size(); ++i) {
        CHECK(qb.act_quantizers()[i]->alpha_value() == qa.act_quantizers()[i]->alpha_value());
        CHECK(qb.act_quantizers()[i]->learning() == qa.act_quantizers()[i]->learning());
      }
    }
    if (cfg.algo.name == "iterative") {
      const auto layers = dynamic_cast<Iterative&>(b.algorithm()).binary_layers();
      CHECK(layers == dynamic_cast<Iterative&>(a.algorithm()).binary_layers());
      CHECK(layers.size() == 2);  // epoch 2 of one layer per epoch
    }
    if (cfg.algo.name == "proxybnn") {
      const auto pa = a.algorithm().extra_params(), pb = b.algorithm().extra_params();
      REQUIRE(pa.size() == pb.size());
      REQUIRE_FALSE(pa.empty());
      for (size_t i = 0; i < pa.size(); ++i) {
        CHECK(pb[i]->name == pa[i]->name);
        CHECK(std::memcmp(pb[i]->value.data(), pa[i]->value.data(),
                          pa[i]->value.size() * sizeof(float)) == 0);
      }
    }

    // Both go on to the end: the same records and the same final state, bit for bit.
    CHECK(a.run([&](const json& r) { recs_a.push_back(strip(r)); }));
    CHECK(b.run([&](const json& r) { recs_b.push_back(strip(r)); }));
    REQUIRE(recs_a.size() == 3);
    CHECK(recs_b == recs_a);
    CHECK(timeless(b.snapshot()) == timeless(a.snapshot()));
  }
  std::filesystem::remove(path);
}
