// Mutates a real mid-epoch checkpoint (LeNet-5 under BCGD: weights, optimizer state, the
// algorithm's tensors and its meta section) in hundreds of ways: truncations, bit flips, and lies
// told with matching CRC-32s (section and name lengths, tensor ranks and dimensions, shapes whose
// element count overflows 64 bits, sizes of data, meta fields out of range). Each one must load
// exactly what its bytes say, or be refused with a DataError or UsageError (exit 3 or 2); a loaded
// file must then restore into its run or be refused the same way. tools/sanitize runs this under
// ASan + UBSan with a 256 MiB allocation cap (test_fuzz_util.h): an overflow, an out-of-bounds
// read or an allocation that only a lying header could ask for fails the test.
#include <atomic>
#include <optional>
#include <set>

#include "app/config/config.h"
#include "app/run/restored_run.h"
#include "app/train/checkpoint.h"
#include "app/train/trainer.h"
#include "engine/core/bounded_json.h"
#include "engine/core/random.h"
#include "test_fuzz_util.h"
#include "test_sweep_util.h"

using namespace qt;
using fuzz::Attempt;
using fuzz::Outcome;
using json = nlohmann::json;

namespace {

// LeNet-5 on a small synthetic set, 5 batches an epoch, BCGD (extra parameters α, algorithm
// tensors, an algorithm state in the meta section).
json base_config() {
  json c = default_config();
  auto set = [&](const char* key, const json& v) { set_value(c, key, v, "test"); };
  set("model", "lenet5");
  set("data.name", "synthetic");
  set("data.synthetic.size", json::array({160, 40}));
  set("data.val_size", 0);
  set("epochs", 3);
  set("batch_size", 32);
  set("algo.name", "bcgd");
  validate_config(c);
  return c;
}

// A checkpoint as qtrain train writes one when stopped in the second epoch, after 7 batches.
std::string base_checkpoint(const json& config) {
  const TrainConfig cfg = to_train_config(config);
  const DataSplits data = load_splits(cfg.data);
  Trainer trainer(cfg, data);
  std::atomic<bool> stop{false};
  int batches = 0;
  trainer.run([](const json&) {}, [&](const TrainProgress&) { stop = ++batches == 7; }, &stop);
  Checkpoint c = trainer.snapshot();
  c.meta["config"] = config;
  c.meta["run_seconds"] = 1.5;
  return serialize_checkpoint(c);
}

// The file's layout (app/train/checkpoint.h), rewritten with correct checksums after an edit.
struct Section {
  std::string name, payload;
};
struct Layout {
  uint32_t version = 1, count = 0;
  std::vector<Section> sections;
};

Layout split(const std::string& b) {
  Layout l;
  l.version = static_cast<uint32_t>(fuzz::get_le(b, 8, 4));
  l.count = static_cast<uint32_t>(fuzz::get_le(b, 12, 4));
  size_t at = 16;
  for (uint32_t s = 0; s < l.count; ++s) {
    const size_t name_len = fuzz::get_le(b, at, 4);
    Section sec{b.substr(at + 4, name_len), ""};
    const size_t len = fuzz::get_le(b, at + 4 + name_len, 8);
    sec.payload = b.substr(at + 12 + name_len, len);
    l.sections.push_back(sec);
    at += 12 + name_len + len + 4;
  }
  return l;
}

std::string u32(uint64_t v) {
  std::string s(4, '\0');
  fuzz::put_le(s, 0, 4, v);
  return s;
}
std::string u64(uint64_t v) {
  std::string s(8, '\0');
  fuzz::put_le(s, 0, 8, v);
  return s;
}

std::string join(const Layout& l) {
  std::string b = "QTRAINCK" + u32(l.version) + u32(l.count);
  for (const Section& s : l.sections)
    b += u32(s.name.size()) + s.name + u64(s.payload.size()) + s.payload +
         u32(fuzz::crc(s.payload, fuzz::crc(s.name)));
  return b;
}

// Where section `i`'s name-length field starts in the joined file.
size_t section_offset(const Layout& l, size_t i) {
  size_t at = 16;
  for (size_t s = 0; s < i; ++s)
    at += 16 + l.sections[s].name.size() + l.sections[s].payload.size();
  return at;
}

std::string tensor_payload(const std::vector<uint64_t>& dims, const std::string& data) {
  std::string p = u32(dims.size());
  for (uint64_t d : dims) p += u64(d);
  return p + data;
}

struct RefTensor {
  std::string name;
  Shape shape;
  std::string data;
};
struct RefCheckpoint {
  json meta;
  std::vector<RefTensor> tensors;
};

// The plain reading of the format, written apart from the reader: nullopt = not a valid file.
std::optional<RefCheckpoint> ref_parse(const std::string& b) {
  if (b.size() < 16 || b.compare(0, 8, "QTRAINCK") != 0) return std::nullopt;
  if (fuzz::get_le(b, 8, 4) != 1) return std::nullopt;
  const uint64_t count = fuzz::get_le(b, 12, 4);
  RefCheckpoint r;
  bool meta = false;
  std::set<std::string> names;
  uint64_t at = 16;
  for (uint64_t s = 0; s < count; ++s) {
    if (b.size() - at < 4) return std::nullopt;
    const uint64_t name_len = fuzz::get_le(b, at, 4);
    if (name_len > 4096 || b.size() - at - 4 < name_len + 8) return std::nullopt;
    const std::string name = b.substr(at + 4, name_len);
    const uint64_t len = fuzz::get_le(b, at + 4 + name_len, 8);
    at += 12 + name_len;
    if (b.size() - at < len || b.size() - at - len < 4) return std::nullopt;
    const std::string payload = b.substr(at, len);
    at += len;
    if (fuzz::get_le(b, at, 4) != fuzz::crc(payload, fuzz::crc(name))) return std::nullopt;
    at += 4;
    if (!names.insert(name).second) return std::nullopt;
    if (name == "meta") {
      try {
        r.meta = parse_bounded_json(payload);
      } catch (const json::exception&) {
        return std::nullopt;
      }
      if (!r.meta.is_object()) return std::nullopt;
      meta = true;
      continue;
    }
    if (payload.size() < 4) return std::nullopt;
    const uint64_t rank = fuzz::get_le(payload, 0, 4);
    if (rank > 8 || payload.size() < 4 + 8 * rank) return std::nullopt;
    RefTensor t{name, {}, ""};
    unsigned __int128 n = 1;
    for (uint64_t i = 0; i < rank; ++i) {
      const uint64_t d = fuzz::get_le(payload, 4 + 8 * i, 8);
      if (d > (uint64_t{1} << 40)) return std::nullopt;
      n *= d;
      if (n > static_cast<unsigned __int128>(INT64_MAX)) return std::nullopt;
      t.shape.push_back(static_cast<int64_t>(d));
    }
    t.data = payload.substr(4 + 8 * rank);
    if (t.data.size() != n * 4) return std::nullopt;
    r.tensors.push_back(t);
  }
  if (at != b.size() || !meta) return std::nullopt;
  return r;
}

struct Mutation {
  std::string what, bytes;
  bool lie = false;  // must be refused, by the reader or when restored
};

class Checker {
 public:
  Checker() : root_(sweep_test::scratch("fuzz-checkpoint")), cleanup_{root_} {}
  fuzz::Tally tally;

  // Parses `m` (compared with the reference reading), then restores a parsed file into its run.
  void check(const Mutation& m) {
    INFO(m.what);
    std::optional<Checkpoint> got;
    Attempt a = fuzz::attempt([&] { got = parse_checkpoint(m.bytes, "fuzz.ckpt"); });
    const std::optional<RefCheckpoint> ref = ref_parse(m.bytes);
    INFO("parse: " << a.message);
    REQUIRE(a.outcome != Outcome::Other);
    if (got) {
      REQUIRE_MESSAGE(ref, "loaded, but the bytes are not a valid checkpoint");
      CHECK(got->meta == ref->meta);
      REQUIRE(got->tensors.size() == ref->tensors.size());
      for (size_t i = 0; i < ref->tensors.size(); ++i) {
        CHECK(got->tensors[i].first == ref->tensors[i].name);
        CHECK(got->tensors[i].second.shape() == ref->tensors[i].shape);
        CHECK(std::string(reinterpret_cast<const char*>(got->tensors[i].second.data()),
                          got->tensors[i].second.size() * 4) == ref->tensors[i].data);
      }
      const std::string path = (root_ / "fuzz.ckpt").string();
      sweep_test::write(path, m.bytes);
      a = fuzz::attempt([&] { RestoredRun run(path, ""); });
      INFO("restore: " << a.message);
      REQUIRE(a.outcome != Outcome::Other);
    } else {
      CHECK(a.outcome == Outcome::Data);
      CHECK_MESSAGE(!ref, "refused, but the bytes are a valid checkpoint");
      CHECK(a.message.find("checkpoint fuzz.ckpt") != std::string::npos);
    }
    if (m.lie) CHECK_MESSAGE(a.refused(), "a lie was believed");
    tally.count(a);
  }

 private:
  std::filesystem::path root_;
  sweep_test::Cleanup cleanup_;
};

}  // namespace

TEST_CASE("fuzz: checkpoints (truncations, bit flips, lies with matching CRCs)") {
  const json config = base_config();
  const std::string base = base_checkpoint(config);
  const Layout layout = split(base);
  REQUIRE(join(layout) == base);
  REQUIRE(layout.sections.size() > 15);
  Checker checker;
  checker.check({"the checkpoint as written", base});
  REQUIRE(checker.tally.loaded == 1);
  Rng rng(7);
  std::vector<Mutation> ms;

  // Truncations: at every byte of the first sections' headers, then through the file.
  for (size_t n = 0; n < 96; ++n)
    ms.push_back({"truncate to " + std::to_string(n), base.substr(0, n)});
  for (int k = 1; k < 40; ++k) {
    const size_t n = base.size() * k / 40;
    ms.push_back({"truncate to " + std::to_string(n), base.substr(0, n)});
  }
  ms.push_back({"drop the last byte", base.substr(0, base.size() - 1)});
  ms.push_back({"append a byte", base + '\0'});
  ms.push_back({"append the first section again", base + base.substr(16, 40)});

  // Bit flips: in every header field of the first sections and at random bytes.
  for (size_t i = 0; i < 200; i += 3) {
    std::string b = base;
    b[i] ^= static_cast<char>(1 << (i % 8));
    ms.push_back({"flip a bit of byte " + std::to_string(i), b});
  }
  for (int k = 0; k < 80; ++k) {
    std::string b = base;
    const size_t i = rng.below(b.size());
    b[i] ^= static_cast<char>(1 << rng.below(8));
    ms.push_back({"flip a bit of byte " + std::to_string(i), b});
  }

  // The file header: version and section count.
  for (uint64_t v : {0u, 2u, 0xffffffffu}) {
    Layout l = layout;
    l.version = static_cast<uint32_t>(v);
    ms.push_back({"version " + std::to_string(v), join(l), true});
  }
  for (uint64_t v : {0ull, 1ull, layout.count - 1ull, layout.count + 1ull, 0xffffffffull}) {
    Layout l = layout;
    l.count = static_cast<uint32_t>(v);
    ms.push_back({"section count " + std::to_string(v), join(l), true});
  }

  // Every section: its name and payload lengths, and its payload cut or extended with the CRC
  // recomputed (a tensor's data then disagrees with its shape).
  for (size_t s = 0; s < layout.sections.size(); ++s) {
    const Section& sec = layout.sections[s];
    const std::string at = "section " + std::to_string(s) + " (" + sec.name + "): ";
    const size_t off = section_offset(layout, s);
    for (uint64_t v :
         {uint64_t{0}, sec.name.size() + uint64_t{1}, uint64_t{4097}, uint64_t{0xffffffff}}) {
      std::string b = base;
      fuzz::put_le(b, off, 4, v);
      ms.push_back({at + "name length " + std::to_string(v), b, true});
    }
    const size_t len_at = off + 4 + sec.name.size();
    for (uint64_t v : {uint64_t{0}, sec.payload.size() - uint64_t{1},
                       sec.payload.size() + uint64_t{4}, uint64_t{1} << 40, ~uint64_t{0}}) {
      std::string b = base;
      fuzz::put_le(b, len_at, 8, v);
      ms.push_back({at + "payload length " + std::to_string(v), b, true});
    }
    for (int cut : {1, 4}) {
      Layout l = layout;
      l.sections[s].payload.resize(sec.payload.size() - cut);
      ms.push_back({at + "payload cut by " + std::to_string(cut) + ", CRC fixed", join(l), true});
    }
    Layout l = layout;
    l.sections[s].payload += std::string(4, '\x01');
    ms.push_back({at + "4 bytes more payload, CRC fixed", join(l), true});
  }

  // Tensor shapes that lie, with matching CRCs: ranks, each dimension, and shapes whose element
  // count overflows 64 bits (to zero, or to exactly the count of the data that is there).
  int shapes = 0;
  for (size_t s = 0; s < layout.sections.size() && shapes < 6; ++s) {
    const Section& sec = layout.sections[s];
    if (sec.name == "meta") continue;
    if (s % 3 != 1 && fuzz::get_le(sec.payload, 0, 4) != 1) continue;  // a spread of ranks
    ++shapes;
    const uint64_t rank = fuzz::get_le(sec.payload, 0, 4);
    std::vector<uint64_t> dims;
    for (uint64_t i = 0; i < rank; ++i) dims.push_back(fuzz::get_le(sec.payload, 4 + 8 * i, 8));
    const std::string data = sec.payload.substr(4 + 8 * rank);
    const uint64_t n = data.size() / 4;
    const std::string at = sec.name + ": ";
    auto add = [&](const std::string& what, const std::string& payload) {
      Layout l = layout;
      l.sections[s].payload = payload;
      ms.push_back({at + what + ", CRC fixed", join(l), true});
    };
    for (uint64_t r : {uint64_t{0}, rank + 1, uint64_t{9}, uint64_t{0xffffffff}}) {
      std::string p = sec.payload;
      fuzz::put_le(p, 0, 4, r);
      add("rank " + std::to_string(r), p);
    }
    for (uint64_t i = 0; i < rank; ++i)
      for (uint64_t v : {uint64_t{0}, dims[i] - 1, dims[i] + 1, dims[i] * 2, uint64_t{1} << 40,
                         (uint64_t{1} << 40) + 1, uint64_t{1} << 62, ~uint64_t{0}}) {
        if (v == dims[i]) continue;
        std::vector<uint64_t> d = dims;
        d[i] = v;
        add("dimension " + std::to_string(i) + " = " + std::to_string(v), tensor_payload(d, data));
      }
    const uint64_t big = uint64_t{1} << 40;
    add("shape 2^40 × 2^40 × 2^40 × 16 with no data", tensor_payload({big, big, big, 16}, ""));
    add("shape 2^40 × 2^40 × 0 with no data", tensor_payload({big, big, 0}, ""));
    // n·(2^62 + 1) elements: modulo 2^64, 4·n bytes, the size of the data that is there.
    add("n × (2^62 + 1) elements with n floats of data",
        tensor_payload({n, 5, 5581, 8681, 49477, 384773}, data));
    add("2^20 × 2^20 floats declared, 8 bytes there",
        tensor_payload({uint64_t{1} << 20, uint64_t{1} << 20}, std::string(8, '\0')));
  }

  // Sections renamed, repeated, dropped or reordered (CRCs fixed).
  {
    Layout l = layout;
    l.sections[3].name = "param/no-such-layer";
    ms.push_back({"a tensor renamed", join(l), true});
    l = layout;
    l.sections.push_back(layout.sections[2]);
    ++l.count;
    ms.push_back({"a section repeated", join(l), true});
    l = layout;
    l.sections.push_back(layout.sections[0]);
    ++l.count;
    ms.push_back({"the meta section repeated", join(l), true});
    for (size_t s : {size_t{0}, size_t{1}, layout.sections.size() - 1}) {
      l = layout;
      l.sections.erase(l.sections.begin() + s);
      --l.count;
      ms.push_back({"section " + std::to_string(s) + " dropped", join(l), true});
    }
    l = layout;
    std::swap(l.sections[1], l.sections[2]);
    ms.push_back({"two sections swapped (still a valid checkpoint)", join(l)});
  }

  // The meta section, edited and its CRC fixed: every field of the position out of range or of
  // the wrong type, the algorithm's state, the stored configuration.
  REQUIRE(layout.sections[0].name == "meta");
  const json meta = json::parse(layout.sections[0].payload);
  auto with_meta = [&](const std::string& what, const std::string& text, bool lie = true) {
    Layout l = layout;
    l.sections[0].payload = text;
    ms.push_back({"meta: " + what, join(l), lie});
  };
  auto edit = [&](const std::string& ptr, const json& v, bool lie = true) {
    json m = meta;
    m[json::json_pointer(ptr)] = v;
    with_meta(ptr + " = " + v.dump(), m.dump(), lie);
  };
  auto drop = [&](const std::string& ptr) {
    json m = meta;
    const json::json_pointer p(ptr);
    m[p.parent_pointer()].erase(p.back());
    with_meta(ptr + " removed", m.dump());
  };
  const json bad_ints = {
      -1, 1.5, "2", nullptr, json::array(), 9223372036854775807LL, 18446744073709551615ULL, 1e300};
  for (const char* key : {"/epoch", "/batch", "/step", "/seen", "/correct", "/optimizer_steps"}) {
    for (const json& v : bad_ints) edit(key, v);
    drop(key);
  }
  edit("/epoch", 4);
  edit("/batch", 6);
  edit("/correct", meta["seen"].get<int64_t>() + 1);
  for (const json& v : {json(-1.0), json("x"), json(nullptr), json::array()}) edit("/loss_sum", v);
  edit("/loss_sum", 1e308, false);  // large but a number: the next batch's mean is just huge
  edit("/train_seconds", "x");
  edit("/train_seconds", -3);
  edit("/algorithm_state", json::array());
  edit("/algorithm_state", "x");
  for (const json& v : {json(-1), json(100), json("1"), json(1e9)})
    edit("/algorithm_state/epoch", v);
  for (const json& v : {json(-1), json(2000000), json(nullptr)}) edit("/algorithm_state/epochs", v);
  edit("/algorithm_state/step_in_epoch", -5);
  edit("/algorithm_state/step_in_epoch", "x");
  drop("/config");
  edit("/config", "lenet5");
  edit("/config/model", "resnet20");
  edit("/config/model", "no-such-model");
  edit("/config/lr", -1);
  edit("/config/epochs", "3");
  edit("/config/algo/name", "float");  // BCGD's tensors left over
  edit("/config/data/synthetic/shape", json::array({3, 32, 32}));
  edit("/config/no_such_key", 1);
  edit("/config/model_options", 5);
  edit("/train_seconds", 12.5, false);  // harmless: timing only
  with_meta("an array", "[1, 2, 3]");
  with_meta("a number", "5");
  with_meta("empty", "");
  with_meta("cut short", layout.sections[0].payload.substr(0, 40));
  with_meta("nested 100000 levels", std::string(100000, '[') + std::string(100000, ']'));
  with_meta("a string with a NUL", std::string("{\"config\": \"a\0b\"}", 17));

  for (const Mutation& m : ms) checker.check(m);
  checker.tally.report("checkpoints", 500);
  CHECK(checker.tally.loaded > 1);
}

TEST_CASE("a huge tensor declared in a small checkpoint fails fast, without allocating it") {
  // 2^40 × 2^40 × 2^40 × 2^40 elements wrap to 0 in 64 bits: with no data, an unchecked product
  // would accept the section and size a tensor from the shape.
  const uint64_t big = uint64_t{1} << 40;
  Layout l;
  l.count = 2;
  l.sections.push_back({"meta", "{}"});
  l.sections.push_back({"param/w", tensor_payload({big, big, big, big}, "")});
  const std::string bytes = join(l);
  CHECK(bytes.size() < 100);
  const Attempt a = fuzz::attempt([&] { parse_checkpoint(bytes, "tiny.ckpt"); });
  CHECK(a.outcome == Outcome::Data);
  CHECK(a.message.find("more than 2^63 elements") != std::string::npos);
  // The same shape with one float of data: refused by the size, not by an allocation.
  l.sections[1].payload = tensor_payload({big, big, 4}, std::string(4, '\0'));
  const Attempt b = fuzz::attempt([&] { parse_checkpoint(join(l), "tiny.ckpt"); });
  CHECK(b.outcome == Outcome::Data);
}

TEST_CASE("qtrain eval and train --resume refuse lying checkpoints with exit 3") {
  using namespace sweep_test;
  const fs::path root = scratch("fuzz-checkpoint-cli");
  const Cleanup cleanup{root};
  const Streams t =
      run_streams({qtrain_bin(), "train", "--model", "lenet5", "--dataset", "synthetic",
                   "--synthetic-size", "160,40", "--val-size", "0", "--epochs", "2", "--batch-size",
                   "32", "--out", "run", "--threads", "1", "--quiet"},
                  root);
  REQUIRE_MESSAGE(t.code == 0, t.err);
  const fs::path ckpt = root / "run/checkpoints/last.ckpt";
  const std::string good = slurp(ckpt);
  const Layout layout = split(good);
  REQUIRE(layout.sections[0].name == "meta");
  const json meta = json::parse(layout.sections[0].payload);

  auto with_meta = [&](const std::string& key, const json& v) {
    Layout l = layout;
    json m = meta;
    m[key] = v;
    l.sections[0].payload = m.dump();
    return join(l);
  };
  auto with_shape = [&](std::vector<uint64_t> dims) {
    Layout l = layout;
    l.sections[1].payload = tensor_payload(dims, "");
    return join(l);
  };
  const uint64_t big = uint64_t{1} << 40;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"truncated", good.substr(0, good.size() / 2)},
      {"a shape of 2^160 elements", with_shape({big, big, big, big})},
      {"a batch past the epoch", with_meta("batch", 1000)},
      {"a negative epoch", with_meta("epoch", -1)},
      {"run_seconds not a number", with_meta("run_seconds", "x")},
  };
  for (auto& [what, bytes] : cases) {
    INFO(what);
    write(root / "bad.ckpt", bytes);
    const Streams e = run_streams({qtrain_bin(), "eval", "bad.ckpt", "--threads", "1"}, root);
    if (what != "run_seconds not a number") {  // eval does not read the run's timing
      CHECK(e.code == 3);
      CHECK(e.err.find("qtrain: error: ") == 0);
      CHECK(count(e.err, "\n") == 1);
    }
    write(ckpt, bytes);
    const Streams r = run_streams({qtrain_bin(), "train", "--resume", "run", "--quiet"}, root);
    CHECK(r.code == 3);
    CHECK(r.err.find("qtrain: error: ") == 0);
  }
  // The configuration stored in the checkpoint is checked like a config file's: exit 2.
  write(root / "bad.ckpt", [&] {
    Layout l = layout;
    json m = meta;
    m["config"]["lr"] = -1;
    l.sections[0].payload = m.dump();
    return join(l);
  }());
  const Streams e = run_streams({qtrain_bin(), "eval", "bad.ckpt", "--threads", "1"}, root);
  CHECK(e.code == 2);
  CHECK(e.err.find("lr = -1 is out of range") != std::string::npos);
}
