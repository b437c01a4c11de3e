// Checkpoints: exact round trip, exact resume (at an epoch end and mid-epoch), and clear errors
// for truncated, corrupt, foreign and newer files, none of them loaded half-way.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/parallel.h"
#include "engine/train/checkpoint.h"
#include "engine/train/trainer.h"

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
