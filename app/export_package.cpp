#include "app/export_package.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "app/package_manifest.h"
#include "app/restored_run.h"
#include "engine/core/bounded_json.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/parallel.h"
#include "engine/quant/projection.h"

namespace qt {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Evaluation of a package: `used` already holds the network, nothing is recomputed.
class Frozen : public Algorithm {
 public:
  std::string name() const override { return "frozen"; }
  void attach(Model&) override {}
};

}  // namespace

bool is_package(const std::string& path) {
  return fs::exists(fs::path(path) / "manifest.json");
}

json export_package(const std::string& checkpoint, const std::string& out_dir) {
  // The trainer needs the data's shape only: a tiny synthetic split of the same shape would do,
  // but the real loader is cheap and checks the run's data is what it claims.
  RestoredRun run(checkpoint, "");
  Trainer& trainer = run.trainer;
  Algorithm& algo = trainer.algorithm();
  algo.begin_eval();

  std::map<const Param*, int64_t> set_sizes;
  for (auto& [p, n] : algo.quantized_params()) set_sizes[p] = n;
  std::string blob;
  json tensors = json::array();
  auto add_floats = [&](const std::string& name, const Tensor& t) {
    tensors.push_back({{"name", name},
                       {"shape", t.shape()},
                       {"encoding", "float32"},
                       {"offset", blob.size()},
                       {"bytes", t.size() * 4}});
    blob.append(reinterpret_cast<const char*>(t.data()), t.size() * 4);
  };
  int64_t packed_bits = 0;
  for (Param* p : trainer.model().params.params()) {
    auto it = set_sizes.find(p);
    if (it == set_sizes.end()) {
      add_floats("param/" + p->name, p->used);
      continue;
    }
    const Tensor& w = p->used;
    std::set<float> all(w.data(), w.data() + w.size());
    const int64_t rows = p->shape[0], row_len = w.size() / rows;
    const bool per_row = static_cast<int64_t>(all.size()) > it->second;
    const int64_t groups = per_row ? rows : 1, group_len = per_row ? row_len : w.size();
    json codebooks = json::array();
    std::vector<std::vector<float>> books(groups);
    size_t most = 1;
    for (int64_t g = 0; g < groups; ++g) {
      std::set<float> v(w.data() + g * group_len, w.data() + (g + 1) * group_len);
      books[g].assign(v.begin(), v.end());
      most = std::max(most, books[g].size());
      codebooks.push_back(books[g]);
    }
    if (static_cast<int64_t>(most) > it->second)
      throw DataError(p->name + ": the evaluated weights hold " + std::to_string(most) +
                      " distinct values per scale, more than the set's " +
                      std::to_string(it->second));
    const int bits = index_bits(it->second);
    std::string packed((w.size() * bits + 7) / 8, '\0');
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t i = g * group_len; i < (g + 1) * group_len; ++i) {
        const auto& book = books[g];
        const uint64_t code = std::lower_bound(book.begin(), book.end(), w[i]) - book.begin();
        const uint64_t bit = static_cast<uint64_t>(i) * bits;
        for (int k = 0; k < bits; ++k)
          if (code >> k & 1) packed[(bit + k) / 8] |= static_cast<char>(1 << ((bit + k) % 8));
      }
    tensors.push_back({{"name", "param/" + p->name},
                       {"shape", p->shape},
                       {"encoding", "codebook"},
                       {"bits", bits},
                       {"per_channel", per_row},
                       {"codebooks", codebooks},
                       {"offset", blob.size()},
                       {"bytes", packed.size()}});
    blob += packed;
    packed_bits += w.size() * bits;
  }
  for (Buffer* b : trainer.model().params.buffers()) add_floats("buffer/" + b->name, b->value);
  algo.end_eval();

  json manifest = {{"schema_version", 1},
                   {"format", "qtrain-package"},
                   {"source_checkpoint", run.path},
                   {"config", run.ckpt.meta["config"]},
                   {"epoch", run.ckpt.meta.value("epoch", 0)},
                   {"tensors", tensors},
                   {"weights_bytes", blob.size()},
                   {"packed_weight_bits", packed_bits}};
  make_dirs(out_dir);
  write_file_atomic(out_dir + "/weights.bin", blob);
  write_file_atomic(out_dir + "/manifest.json", manifest.dump(1) + "\n");
  return manifest;
}

json evaluate_package(const std::string& dir, const std::string& split, const std::string& data_dir,
                      int threads) {
  const std::string mpath = dir + "/manifest.json";
  json m;
  try {
    m = parse_bounded_json(read_file(mpath));
  } catch (const json::exception& e) {
    throw DataError(mpath + ": is not valid JSON: " + e.what());
  }
  check_package_manifest(m, mpath);
  if (m.value("format", "") != "qtrain-package" || m.value("schema_version", 0) != 1)
    throw DataError(mpath + ": not a qtrain package of schema version 1");
  const std::string blob = read_file(dir + "/weights.bin");
  if (blob.size() != m.value("weights_bytes", uint64_t{0}))
    throw DataError(dir + "/weights.bin: has " + std::to_string(blob.size()) +
                    " bytes, the manifest says " + m.value("weights_bytes", json(0)).dump());
  check_split_name(split);
  set_threads(threads);
  RestoredRun run(m["config"], mpath, data_dir);
  const TrainConfig& cfg = run.cfg;
  Trainer& trainer = run.trainer;
  std::map<std::string, const json*> by_name;
  for (auto& t : m["tensors"]) by_name[t["name"]] = &t;
  auto fetch = [&](const std::string& name, const Shape& shape) -> const json& {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw DataError(mpath + ": no tensor '" + name + "'");
    const json& t = *it->second;
    if (t["shape"].get<Shape>() != shape)
      throw DataError(mpath + ": tensor '" + name + "' has shape " + t["shape"].dump() +
                      ", the model needs " + shape_str(shape));
    if (t["offset"].get<uint64_t>() + t["bytes"].get<uint64_t>() > blob.size())
      throw DataError(mpath + ": tensor '" + name + "' lies outside weights.bin");
    return t;
  };
  for (Param* p : trainer.model().params.params()) {
    const json& t = fetch("param/" + p->name, p->shape);
    const char* src = blob.data() + t["offset"].get<uint64_t>();
    // Evaluation reads `used`: the packed values go there, the algorithm is not asked again.
    Tensor& dst = p->substitute();
    if (t["encoding"] == "float32") {
      std::memcpy(dst.data(), src, dst.size() * 4);
      continue;
    }
    const int bits = t["bits"];
    const auto& books = t["codebooks"];
    const int64_t group_len = dst.size() / static_cast<int64_t>(books.size());
    for (int64_t i = 0; i < dst.size(); ++i) {
      uint64_t code = 0, bit = static_cast<uint64_t>(i) * bits;
      for (int k = 0; k < bits; ++k)
        code |= static_cast<uint64_t>((src[(bit + k) / 8] >> ((bit + k) % 8)) & 1) << k;
      const json& book = books[i / group_len];
      if (code >= book.size())
        throw DataError(mpath + ": tensor '" + p->name + "' has a code outside its codebook");
      dst[i] = book[code].get<float>();
    }
  }
  for (Buffer* b : trainer.model().params.buffers()) {
    const json& t = fetch("buffer/" + b->name, b->value.shape());
    std::memcpy(b->value.data(), blob.data() + t["offset"].get<uint64_t>(), b->value.size() * 4);
  }
  Frozen frozen;
  EvalResult r =
      evaluate(trainer.model(), frozen, run.split(split), run.data.norm, cfg.eval_batch_size);
  return {{"package", dir},
          {"model", cfg.model},
          {"algorithm", cfg.algo.name},
          {"split", split},
          {"samples", r.samples},
          {"loss", r.loss},
          {"accuracy", r.accuracy},
          {"per_class_accuracy", r.per_class_accuracy()}};
}

}  // namespace qt
