// Mutates configuration files (qtrain train --config) and sweep files (qtrain sweep) in hundreds of
// ways: truncations, stray bytes, cut and repeated spans, every value replaced by values of other
// types and sizes, keys mistyped, and documents built to exhaust the reader (nesting 100000 deep, a
// megabyte key, a grid of 10^10 runs, 100000 seeds). Each one must load into a valid configuration
// (every run's, for a sweep) or be refused with a UsageError (exit 2) naming what is wrong; none
// may crash, hang or allocate beyond the file's size. tools/sanitize runs this under ASan + UBSan.
#include <chrono>
#include <functional>

#include "app/config/config.h"
#include "app/sweep/sweep_spec.h"
#include "engine/core/random.h"
#include "test_fuzz_util.h"
#include "test_sweep_util.h"

using namespace qt;
using fuzz::Attempt;
using fuzz::Outcome;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

// A file of the shape experiments/ holds, with nested and dotted keys and lists.
const char* kConfig = R"({
  "model": "resnet20",
  "data": {"name": "cifar10", "val_size": 0, "augment": "on", "synthetic.shape": [3, 32, 32]},
  "epochs": 200,
  "batch_size": 128,
  "lr": 0.1,
  "optimizer": {"name": "sgd", "momentum": 0.95, "weight_decay": 0.0001, "nesterov": false},
  "schedule": {"name": "multistep", "milestones": [80, 140], "gamma": 0.1},
  "seed": 0,
  "algo": {"name": "bcgd", "projection": "binary", "layers": ["all"], "act": "quant",
           "act_bits": 2, "alpha_rate": 0.01, "rho": 1e-05}
})";

const char* kSweep = R"({
  "name": "fuzz",
  "description": "every section of a sweep file",
  "base": {"data": {"name": "synthetic", "limit_train": 100}, "epochs": 4, "batch_size": 64,
           "schedule.name": "cosine", "algo": {"name": "ste"}},
  "grid": {"model": ["mlp", "lenet5"], "lr": [0.02, 0.05], "schedule.milestones": [[1, 2], [3]]},
  "zip": [{"algo.name": ["float", "ste"], "algo.bits": [0, 2]}],
  "runs": [{"algo.name": "binaryrelax", "algo.phase2_epoch": 2, "lr": 0.05}],
  "seeds": [0, 1],
  "out": "runs/sweep-fuzz"
})";

// Values of every JSON type, at the edges of their ranges, and large.
std::vector<ojson> hostile_values() {
  return {-1,
          0,
          1,
          1.5,
          -1e308,
          1e308,
          9223372036854775807LL,
          18446744073709551615ULL,
          "",
          "x",
          "mlp",
          std::string(5000, 'a'),
          "<script>|\n`",
          nullptr,
          true,
          ojson::array(),
          ojson::array({1, "a", nullptr}),
          ojson::array({ojson::array({1})}),
          ojson::object(),
          ojson::object({{"lr", 1}})};
}

// Every value of the document (objects walked into), as JSON pointers.
void leaves(const ojson& j, const std::string& at, std::vector<std::string>& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it) leaves(it.value(), at + "/" + it.key(), out);
  } else if (j.is_array() && !j.empty()) {
    for (size_t i = 0; i < j.size(); ++i) leaves(j[i], at + "/" + std::to_string(i), out);
  }
  if (!at.empty()) out.push_back(at);
}

// Renames the last key of `ptr` (a pointer into an object) to `key`, keeping the order.
ojson renamed(const ojson& doc, const std::string& ptr, const std::string& key) {
  const ojson::json_pointer p(ptr);
  ojson parent = doc[p.parent_pointer()];
  ojson out = ojson::object();
  for (auto it = parent.begin(); it != parent.end(); ++it)
    out[it.key() == p.back() ? key : it.key()] = it.value();
  ojson d = doc;
  if (p.parent_pointer().empty()) return out;
  d[p.parent_pointer()] = out;
  return d;
}

struct Mutation {
  std::string what, text;
};

std::vector<Mutation> mutate(const std::string& base, uint64_t seed) {
  std::vector<Mutation> ms;
  Rng rng(seed);
  for (int k = 0; k < 30; ++k) {
    const size_t n = base.size() * k / 30;
    ms.push_back({"truncate to " + std::to_string(n), base.substr(0, n)});
  }
  const char kStray[] = "\"{}[],:.-+eE0 \\\n\x01\xff";
  const std::string stray(kStray, sizeof kStray);  // with its NUL
  for (int k = 0; k < 30; ++k) {
    std::string t = base;
    const size_t at = rng.below(t.size());
    t[at] = stray[rng.below(stray.size())];
    ms.push_back({"byte " + std::to_string(at) + " replaced", t});
  }
  for (int k = 0; k < 12; ++k) {
    const size_t at = rng.below(base.size()), len = 1 + rng.below(40);
    std::string cut = base, twice = base;
    cut.erase(at, len);
    twice.insert(at, base.substr(at, len));
    ms.push_back({"bytes " + std::to_string(at) + "+" + std::to_string(len) + " cut", cut});
    ms.push_back({"bytes " + std::to_string(at) + "+" + std::to_string(len) + " repeated", twice});
  }
  // Structural edits: each value replaced by a few hostile ones, keys renamed.
  const ojson doc = ojson::parse(base);
  std::vector<std::string> ptrs;
  leaves(doc, "", ptrs);
  const std::vector<ojson> values = hostile_values();
  for (const std::string& p : ptrs)
    for (int k = 0; k < 3; ++k) {
      ojson d = doc;
      const ojson& v = values[rng.below(values.size())];
      d[ojson::json_pointer(p)] = v;
      ms.push_back({p + " = " + v.dump().substr(0, 40), d.dump(1)});
    }
  for (const std::string& p : ptrs) {
    const ojson::json_pointer jp(p);
    if (!doc[jp.parent_pointer()].is_object()) continue;
    const std::string key = jp.back();
    for (const std::string& k : {key.substr(1), key + key.substr(0, 1), std::string(),
                                 std::string(100000, 'k'), std::string("a.b.c")})
      ms.push_back({p + " renamed to '" + k.substr(0, 20) + "'", renamed(doc, p, k).dump()});
  }
  // A key given twice in the text: JSON leaves it open which one counts (nlohmann: the last).
  ms.push_back({"a key twice", "{\"lr\": 0.1, " + base.substr(base.find('{') + 1)});
  return ms;
}

// Documents built against the reader, for either kind of file.
std::vector<Mutation> hostile_documents() {
  std::vector<Mutation> ms = {
      {"empty", ""},
      {"null", "null"},
      {"a list", "[]"},
      {"a number", "0"},
      {"a string", "\"x\""},
      {"not JSON", "model: mlp"},
      {"nested 100000 levels in a list", std::string(100000, '[') + std::string(100000, ']')},
      {"nested 100000 levels in objects",
       [] {
         std::string s;
         for (int i = 0; i < 100000; ++i) s += "{\"a\":";
         return s + "1" + std::string(100000, '}');
       }()},
      {"a megabyte key", "{\"" + std::string(1 << 20, 'k') + "\": 1}"},
      {"a megabyte string", "{\"model\": \"" + std::string(1 << 20, 's') + "\"}"},
      {"a 400-digit number", "{\"epochs\": " + std::string(400, '9') + "}"},
      {"1e999", "{\"lr\": 1e999}"},
      {"-0", "{\"seed\": -0}"},
      {"invalid UTF-8", "{\"model\": \"\xff\xfe\"}"},
      {"a NUL in a string", std::string("{\"model\": \"ml\0p\"}", 17)},
      {"an escaped NUL", "{\"data\": {\"dir\": \"a\\u0000b\"}}"},
      {"a lone surrogate", "{\"model\": \"\\ud800\"}"},
  };
  return ms;
}

void check_config(const std::string& path, fuzz::Tally& tally) {
  const Attempt a = fuzz::attempt([&] {
    json cfg = default_config();
    merge_config(cfg, read_config_file(path), "config file '" + path + "'");
    validate_config(cfg);
    (void)to_train_config(cfg);
  });
  INFO("message: " << a.message);
  CHECK(a.outcome != Outcome::Other);
  CHECK(a.outcome != Outcome::Data);
  if (a.refused()) CHECK(!a.message.empty());
  tally.count(a);
}

void check_sweep(const std::string& path, fuzz::Tally& tally) {
  Sweep sw;
  const Attempt a = fuzz::attempt([&] { sw = load_sweep(path); });
  INFO("message: " << a.message);
  CHECK(a.outcome != Outcome::Other);
  CHECK(a.outcome != Outcome::Data);
  if (a.refused()) CHECK(a.message.find(path) != std::string::npos);
  if (a.outcome == Outcome::Loaded) {
    CHECK(!sw.runs.empty());
    for (const SweepRun& r : sw.runs) {
      CHECK(fuzz::attempt([&] { validate_config(r.config); }).outcome == Outcome::Loaded);
      CHECK(r.name.size() <= 120);
    }
  }
  tally.count(a);
}

}  // namespace

TEST_CASE("fuzz: configuration files") {
  const sweep_test::fs::path root = sweep_test::scratch("fuzz-config");
  const sweep_test::Cleanup cleanup{root};
  const std::string path = (root / "config.json").string();
  fuzz::Tally tally;
  sweep_test::write(path, kConfig);
  check_config(path, tally);
  REQUIRE(tally.loaded == 1);
  std::vector<Mutation> ms = mutate(kConfig, 11);
  for (const Mutation& m : hostile_documents()) ms.push_back(m);
  for (const Mutation& m : ms) {
    INFO(m.what);
    sweep_test::write(path, m.text);
    check_config(path, tally);
  }
  tally.report("configuration files", 200);
  CHECK(tally.loaded > 10);
}

TEST_CASE("fuzz: sweep files") {
  const sweep_test::fs::path root = sweep_test::scratch("fuzz-sweep");
  const sweep_test::Cleanup cleanup{root};
  const std::string path = (root / "sweep.json").string();
  fuzz::Tally tally;
  sweep_test::write(path, kSweep);
  check_sweep(path, tally);
  REQUIRE(tally.loaded == 1);
  std::vector<Mutation> ms = mutate(kSweep, 12);
  for (const Mutation& m : hostile_documents()) ms.push_back(m);
  // Sweeps that expand past what memory holds, from a few hundred bytes.
  ms.push_back({"a grid of 10^10 runs",
                R"({"grid": {"lr": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
                "seed": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "epochs": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                "batch_size": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "optimizer.momentum": [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
                "data.limit_train": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "data.limit_test": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                "eval_batch_size": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "data.split_seed": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                "data.synthetic.seed": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}})"});
  std::string seeds = "{\"seeds\": [0";
  for (int s = 1; s < 100000; ++s) (seeds += ',') += std::to_string(s);
  ms.push_back({"100000 seeds", seeds + "]}"});
  std::string zip = "{\"zip\": [";
  for (int g = 0; g < 2000; ++g) zip += std::string(g ? "," : "") + "{}";
  ms.push_back({"2000 empty zip groups", zip + "]}"});
  for (const Mutation& m : ms) {
    INFO(m.what);
    const auto start = std::chrono::steady_clock::now();
    sweep_test::write(path, m.text);
    check_sweep(path, tally);
    // Refused from its size, not after building the runs.
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  }
  tally.report("sweep files", 200);
  CHECK(tally.loaded > 10);
}

TEST_CASE("qtrain train --config and qtrain sweep refuse hostile files with exit 2") {
  using namespace sweep_test;
  const fs::path root = scratch("fuzz-config-cli");
  const Cleanup cleanup{root};
  write(root / "deep.json", std::string(200000, '[') + std::string(200000, ']'));
  write(root / "cut.json", std::string(kConfig).substr(0, 100));
  std::string seeds =
      "{\"base\": {\"data.name\": \"synthetic\"}, \"grid\": {\"lr\": [0.1, 0.2]}, \"seeds\": [0";
  for (int s = 1; s < 20000; ++s) (seeds += ',') += std::to_string(s);
  write(root / "many.json", seeds + "]}");
  for (const char* f : {"deep.json", "cut.json"}) {
    INFO(f);
    const Streams t = run_streams({qtrain_bin(), "train", "--config", f, "--epochs", "1"}, root);
    CHECK(t.code == 2);
    CHECK(t.err.find("qtrain: error: config file '") == 0);
    const Streams s = run_streams({qtrain_bin(), "sweep", f, "--dry-run"}, root);
    CHECK(s.code == 2);
    CHECK(s.err.find("qtrain: error: sweep file '") == 0);
  }
  const Streams s = run_streams({qtrain_bin(), "sweep", "many.json", "--dry-run"}, root);
  CHECK(s.code == 2);
  CHECK(s.err.find("expands to 40000 runs") != std::string::npos);
  CHECK(count(s.err, "\n") == 1);
}
