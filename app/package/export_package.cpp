#include "app/package/export_package.h"

#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include "app/package/npy_file.h"
#include "app/package/package_manifest.h"
#include "app/package/package_tensor.h"
#include "app/package/packed_runner.h"
#include "app/run/restored_run.h"
#include "engine/core/bounded_json.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/parallel.h"

namespace qt {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Evaluation of a package: the model's tensors hold the network, nothing is recomputed.
class Frozen : public Algorithm {
 public:
  std::string name() const override { return "frozen"; }
  void attach(Model&) override {}
};

}  // namespace

bool is_package(const std::string& path) {
  return fs::exists(fs::path(path) / "manifest.json");
}

PackedNetwork pack_network(Model& model, Algorithm& algo) {
  algo.begin_eval();
  std::map<const Param*, int64_t> set_sizes;
  for (auto& [p, n] : algo.quantized_params()) set_sizes[p] = n;
  PackedNetwork r;
  for (const ModelTensor& t : model.tensors()) {
    auto it = t.param ? set_sizes.find(t.param) : set_sizes.end();
    if (it == set_sizes.end()) {
      r.tensors.push_back(pack_float32(t.name, t.evaluated(), r.blob));
      continue;
    }
    r.tensors.push_back(pack_codebook(t.name, t.evaluated(), it->second, r.blob));
    r.packed_bits += t.evaluated().size() * r.tensors.back()["bits"].get<int>();
  }
  algo.end_eval();
  return r;
}

void unpack_network(Model& model, const json& entries, const std::string& blob,
                    const std::string& where) {
  // One entry per tensor of the model and one tensor of the model per entry: a tensor left out
  // would keep its initial value and change the results without a word.
  if (!entries.is_array()) throw DataError(where + ": has no \"tensors\" list");
  std::map<std::string, const json*> by_name;
  for (const json& e : entries) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string())
      throw DataError(where + ": a tensor entry without a name: " + e.dump().substr(0, 200));
    if (!by_name.emplace(e["name"].get<std::string>(), &e).second)
      throw DataError(where + ": tensor '" + e["name"].get<std::string>() + "' appears twice");
  }
  const std::string needs = "the model of its configuration (" + model.name + ")";
  const std::vector<ModelTensor> tensors = model.tensors();
  std::vector<std::string> missing;
  std::set<std::string> known;
  for (const ModelTensor& t : tensors) {
    known.insert(t.name);
    auto it = by_name.find(t.name);
    if (it == by_name.end()) {
      missing.push_back(t.name);
      continue;
    }
    Shape shape;
    try {
      shape = it->second->at("shape").get<Shape>();
    } catch (const json::exception&) {
      throw DataError(where + ": tensor '" + t.name + "' has no valid shape");
    }
    if (shape != t.shape())
      throw DataError(where + ": tensor '" + t.name + "' has shape " + shape_str(shape) + ", " +
                      needs + " has " + shape_str(t.shape()));
  }
  auto list = [](const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
    return s;
  };
  if (!missing.empty()) throw DataError(where + ": lacks tensor " + list(missing) + " of " + needs);
  std::vector<std::string> unused;
  for (const auto& [name, e] : by_name)
    if (!known.count(name)) unused.push_back(name);
  if (!unused.empty())
    throw DataError(where + ": has tensor " + list(unused) + ", which " + needs +
                    " does not have (a package of another configuration?)");
  std::vector<Tensor> values;
  for (const ModelTensor& t : tensors) {
    values.emplace_back(t.shape());
    unpack_tensor(*by_name.at(t.name), blob, values.back(), where);
  }
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].set(values[i]);
}

json export_package(const std::string& checkpoint, const std::string& out_dir) {
  // The trainer needs the data's shape only: a tiny synthetic split of the same shape would do,
  // but the real loader is cheap and checks the run's data is what it claims.
  set_threads(0);  // as `qtrain eval`: OpenBLAS on one thread, the network computed as there
  RestoredRun run(checkpoint, "");
  PackedNetwork net = pack_network(run.trainer.model(), run.trainer.algorithm());
  // Each conv and linear layer's weight set, input set and packed kernel (packed_runner.h), for
  // `qtrain infer`; a layer that cannot run packed says why.
  json layers = json::array();
  run.trainer.algorithm().begin_eval();
  {
    PackedRunner plan(run.trainer.model(), quantized_weights(net.tensors), false, out_dir);
    for (const PackedLayerInfo& l : plan.layers()) layers.push_back(to_json(l));
  }
  run.trainer.algorithm().end_eval();
  json manifest = {{"schema_version", 1},
                   {"format", "qtrain-package"},
                   {"source_checkpoint", run.path},
                   {"config", run.ckpt.meta["config"]},
                   {"epoch", run.ckpt.meta.value("epoch", 0)},
                   {"tensors", net.tensors},
                   {"layers", layers},
                   {"weights_bytes", net.blob.size()},
                   {"packed_weight_bits", net.packed_bits}};
  make_dirs(out_dir);
  write_file_atomic(out_dir + "/weights.bin", net.blob);
  write_file_atomic(out_dir + "/manifest.json", manifest.dump(1) + "\n");
  return manifest;
}

std::unique_ptr<RestoredRun> load_package(const std::string& dir, const std::string& data_dir) {
  const std::string mpath = dir + "/manifest.json";
  json m;
  try {
    m = parse_bounded_json(read_file(mpath));
  } catch (const json::exception& e) {
    throw DataError(mpath + ": is not valid JSON: " + e.what());
  }
  check_package_manifest(m, mpath);
  if (!m.is_object() || m.value("format", json()) != "qtrain-package" ||
      m.value("schema_version", json()) != 1)
    throw DataError(mpath + ": not a qtrain package of schema version 1");
  if (!m.contains("config") || !m["config"].is_object())
    throw DataError(mpath + ": has no \"config\" object (the run's configuration)");
  const std::string blob = read_file(dir + "/weights.bin");
  const json size = m.value("weights_bytes", json());
  if (!size.is_number_unsigned() || blob.size() != size.get<uint64_t>())
    throw DataError(dir + "/weights.bin: has " + std::to_string(blob.size()) +
                    " bytes, the manifest says " + size.dump());
  auto run = std::make_unique<RestoredRun>(m["config"], mpath, data_dir);
  unpack_network(run->trainer.model(), m.value("tensors", json()), blob, mpath);
  return run;
}

json evaluate_package(const std::string& dir, const std::string& split, const std::string& data_dir,
                      int threads, const std::string& logits_path) {
  check_split_name(split);
  set_threads(threads);
  auto run = load_package(dir, data_dir);
  const TrainConfig& cfg = run->cfg;
  // Evaluation reads the loaded tensors: the algorithm is not asked again.
  Frozen frozen;
  Tensor logits;
  EvalResult r = evaluate(run->trainer.model(), frozen, run->split(split), run->data.norm,
                          cfg.eval_batch_size, nullptr, logits_path.empty() ? nullptr : &logits);
  if (!logits_path.empty()) write_file_atomic(logits_path, npy_bytes(logits));
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
