// Mutates a package written by qtrain export (LeNet-5 with BatchNorm, ternary weights with one
// codebook per output channel): its manifest.json as text and field by field (shapes, offsets,
// byte counts, encodings, bits, codebooks, the stored configuration), and its weights.bin (cut,
// extended, bits flipped). Each one must evaluate, or be refused with a DataError or UsageError
// (exit 3 or 2); a manifest that lies about sizes must never make the loader read outside
// weights.bin or allocate what the files cannot hold. tools/sanitize runs this under ASan + UBSan.
#include "app/config/config.h"
#include "app/package/export_package.h"
#include "app/run/run_training.h"
#include "engine/core/random.h"
#include "test_fuzz_util.h"
#include "test_sweep_util.h"

using namespace qt;
using fuzz::Attempt;
using fuzz::Outcome;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Mutation {
  std::string what, manifest, weights;
  bool lie = false;  // must be refused
};

// A ternary LeNet-5-BN on a small synthetic set, one epoch, exported.
fs::path make_package(const fs::path& root) {
  json cfg = default_config();
  auto set = [&](const char* key, const json& v) { set_value(cfg, key, v, "test"); };
  set("model", "lenet5-bn");
  set("data.name", "synthetic");
  set("data.synthetic.size", json::array({128, 40}));
  set("data.val_size", 0);
  set("epochs", 1);
  set("batch_size", 32);
  set("algo.name", "ste");
  set("algo.bits", 2);
  set("algo.per_channel", true);
  RunOptions opt;
  opt.out = (root / "run").string();
  opt.quiet = true;
  run_training(cfg, opt);
  export_package(opt.out, (root / "pkg").string());
  return root / "pkg";
}

}  // namespace

TEST_CASE("fuzz: packages (manifest fields, weights.bin)") {
  const fs::path root = sweep_test::scratch("fuzz-package");
  const sweep_test::Cleanup cleanup{root};
  const fs::path pkg = make_package(root);
  const std::string manifest_text = sweep_test::slurp(pkg / "manifest.json");
  const std::string weights = sweep_test::slurp(pkg / "weights.bin");
  const json manifest = json::parse(manifest_text);
  const json reference = evaluate_package(pkg.string(), "test", "", 1);

  std::vector<Mutation> ms;
  auto with = [&](const std::string& what, const json& m, bool lie = true) {
    ms.push_back({what, m.dump(1), weights, lie});
  };
  auto edit = [&](const std::string& ptr, const json& v, bool lie = true) {
    json m = manifest;
    m[json::json_pointer(ptr)] = v;
    with(ptr + " = " + v.dump().substr(0, 60), m, lie);
  };
  auto drop = [&](const std::string& ptr) {
    json m = manifest;
    const json::json_pointer p(ptr);
    m[p.parent_pointer()].erase(p.back());
    with(ptr + " removed", m);
  };

  // manifest.json as text: cut and stray bytes.
  Rng rng(5);
  for (int k = 0; k < 12; ++k) {
    const size_t n = manifest_text.size() * k / 12;
    ms.push_back(
        {"manifest cut to " + std::to_string(n), manifest_text.substr(0, n), weights, true});
  }
  for (int k = 0; k < 12; ++k) {
    std::string t = manifest_text;
    const size_t at = rng.below(t.size());
    t[at] = "\"{}[],:0-9\x01"[rng.below(12)];
    ms.push_back({"manifest byte " + std::to_string(at) + " replaced", t, weights});
  }

  // The top level.
  edit("/format", "qtrain-checkpoint");
  edit("/format", 5);
  edit("/schema_version", 2);
  edit("/schema_version", "1");
  edit("/tensors", json::object());
  edit("/tensors", "x");
  edit("/tensors", json::array({1, 2}));
  edit("/tensors", json::array());
  edit("/weights_bytes", "x");
  edit("/weights_bytes", -1);
  edit("/weights_bytes", weights.size() + 1);
  edit("/weights_bytes", 18446744073709551615ULL);
  edit("/config", "lenet5");
  edit("/config/model", "mlp");
  edit("/config/model", 5);
  edit("/config/lr", -1);
  edit("/config/data/synthetic/shape", json::array({3, 32, 32}));
  edit("/epoch", "x", false);  // not read by the loader
  drop("/config");
  drop("/tensors");
  with("an array", json::array());
  with("nested 100000 levels", json());
  ms.back().manifest = std::string(100000, '[') + std::string(100000, ']');

  // Every tensor entry: shape, range and encoding fields.
  const json& tensors = manifest["tensors"];
  const uint64_t big = uint64_t{1} << 40;
  bool codebook_seen = false;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const json& t = tensors[i];
    const std::string at = "/tensors/" + std::to_string(i);
    const bool codebook = t["encoding"] == "codebook";
    // A spread of entries: every codebook tensor, and every third float one.
    if (!codebook && i % 3 != 0) continue;
    codebook_seen = codebook_seen || codebook;
    const json shape = t["shape"];
    edit(at + "/shape", json::array());
    edit(at + "/shape", json::array({big, big, big, 16}));
    edit(at + "/shape", json::array({-1}));
    edit(at + "/shape", "x");
    json wider = shape;
    wider[0] = wider[0].get<int64_t>() + 1;
    edit(at + "/shape", wider);
    for (const json& v : {json(-1), json(weights.size()), json(18446744073709551615ULL), json("0")})
      edit(at + "/offset", v);
    for (const json& v : {json(0), json(t["bytes"].get<uint64_t>() - 1),
                          json(t["bytes"].get<uint64_t>() + 1), json(18446744073709551615ULL)})
      edit(at + "/bytes", v);
    edit(at + "/encoding", codebook ? "float32" : "codebook");
    edit(at + "/encoding", "int8");
    edit(at + "/name", 7);
    drop(at + "/name");
    drop(at + "/offset");
    // A renamed entry: the model's tensor is then missing.
    edit(at + "/name", "param/no-such-layer");
    if (!codebook) continue;
    for (const json& v : {json(0), json(1), json(17), json(-2), json(64), json("2")})
      edit(at + "/bits", v);
    edit(at + "/codebooks", json::array());
    edit(at + "/codebooks", json::array({json::array()}));
    edit(at + "/codebooks", "x");
    json fewer = t["codebooks"];
    fewer.erase(fewer.size() - 1);
    edit(at + "/codebooks", fewer);
    edit(at + "/codebooks/0", json::array({0.5, 1, -1, 2, 3}));  // 5 values, 2 bits
    edit(at + "/codebooks/0/0", 1e300);
    edit(at + "/codebooks/0/0", "x");
    edit(at + "/codebooks/0/0", -0.25, false);      // another value: loads, evaluates differently
    edit(at + "/codebooks/0", json::array({0.5}));  // codes 1 and 2 now point past the book
    drop(at + "/codebooks");
    drop(at + "/bits");
  }
  REQUIRE(codebook_seen);

  // A consistent lie: one tensor declared 2^20 times larger, with the byte counts to match, and
  // weights.bin as the manifest says it is not.
  {
    json m = manifest;
    json& t = m["tensors"][0];
    const uint64_t bytes = t["bytes"].get<uint64_t>() << 20;
    t["shape"][0] = t["shape"][0].get<uint64_t>() << 20;
    t["bytes"] = bytes;
    m["weights_bytes"] = m["weights_bytes"].get<uint64_t>() + bytes;
    with("a tensor 2^20 times larger, bytes to match", m);
  }

  // weights.bin: cut, extended, emptied, and bits flipped (a float or a code changes).
  for (size_t n : {size_t{0}, size_t{1}, weights.size() / 2, weights.size() - 1})
    ms.push_back(
        {"weights.bin cut to " + std::to_string(n), manifest_text, weights.substr(0, n), true});
  ms.push_back({"weights.bin one byte longer", manifest_text, weights + '\0', true});
  for (int k = 0; k < 24; ++k) {
    std::string w = weights;
    const size_t at = rng.below(w.size());
    w[at] ^= static_cast<char>(1 << rng.below(8));
    ms.push_back({"weights.bin bit flip at " + std::to_string(at), manifest_text, w});
  }

  fuzz::Tally tally;
  for (const Mutation& m : ms) {
    INFO(m.what);
    sweep_test::write(pkg / "manifest.json", m.manifest);
    sweep_test::write(pkg / "weights.bin", m.weights);
    json result;
    const Attempt a =
        fuzz::attempt([&] { result = evaluate_package(pkg.string(), "test", "", 1); });
    INFO("message: " << a.message);
    REQUIRE(a.outcome != Outcome::Other);
    if (m.lie) CHECK_MESSAGE(a.refused(), "a lie was believed");
    if (a.refused()) CHECK(a.message.find(pkg.string()) != std::string::npos);
    if (a.outcome == Outcome::Loaded) CHECK(result["samples"] == reference["samples"]);
    tally.count(a);
  }
  tally.report("packages", 100);
  CHECK(tally.loaded > 5);
}

TEST_CASE("qtrain eval refuses lying packages with one line and exit 3") {
  using namespace sweep_test;
  const fs::path root = scratch("fuzz-package-cli");
  const Cleanup cleanup{root};
  const fs::path pkg = make_package(root);
  const json manifest = read_json(pkg / "manifest.json");
  auto eval_with = [&](const std::string& ptr, const json& v) {
    json m = manifest;
    m[json::json_pointer(ptr)] = v;
    write(pkg / "manifest.json", m.dump());
    return run_streams({qtrain_bin(), "eval", pkg.string(), "--threads", "1"}, root);
  };
  const uint64_t big = uint64_t{1} << 40;
  for (auto& [ptr, v] : std::vector<std::pair<std::string, json>>{
           {"/tensors/0/shape", json::array({big, big, big, 16})},
           {"/tensors/0/offset", 18446744073709551615ULL},
           {"/tensors/1/bytes", 1},
           {"/tensors/0/encoding", 3},
           {"/weights_bytes", "many"}}) {
    INFO(ptr << " = " << v.dump());
    const Streams s = eval_with(ptr, v);
    CHECK(s.code == 3);
    CHECK(s.err.find("qtrain: error: " + (pkg / "manifest.json").string()) == 0);
    CHECK(count(s.err, "\n") == 1);
  }
}
