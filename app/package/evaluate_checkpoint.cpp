#include "app/package/evaluate_checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "app/package/npy_file.h"
#include "app/run/restored_run.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/parallel.h"
#include "engine/quant/projection.h"

namespace qt {

using json = nlohmann::json;

namespace {

// Distinct values of a tensor, per tensor (the sets are per layer; per-channel scales make
// more values per tensor but the same count per row — the algorithm's set size says which).
std::set<float> distinct(const Tensor& t) {
  return std::set<float>(t.data(), t.data() + t.size());
}

}  // namespace

json evaluate_checkpoint(const EvalRequest& req) {
  check_split_name(req.split);
  set_threads(req.threads);
  RestoredRun run(req.checkpoint, req.data_dir);
  const TrainConfig& cfg = run.cfg;
  const std::string& path = run.path;
  Trainer& trainer = run.trainer;
  Tensor logits;
  EvalResult r = evaluate(trainer.model(), trainer.algorithm(), run.split(req.split), run.data.norm,
                          cfg.eval_batch_size, nullptr, req.logits.empty() ? nullptr : &logits);
  if (!req.logits.empty()) write_file_atomic(req.logits, npy_bytes(logits));

  json out = {{"schema_version", 1},
              {"checkpoint", path},
              {"model", cfg.model},
              {"algorithm", cfg.algo.name},
              {"dataset", cfg.data.name},
              {"split", req.split},
              {"epoch", run.ckpt.meta.value("epoch", 0)},
              {"samples", r.samples},
              {"loss", r.loss},
              {"accuracy", r.accuracy},
              {"per_class_accuracy", r.per_class_accuracy()},
              {"confusion", json::array()}};
  for (int c = 0; c < r.classes; ++c)
    out["confusion"].push_back(std::vector<int64_t>(r.confusion.begin() + c * r.classes,
                                                    r.confusion.begin() + (c + 1) * r.classes));

  // The evaluated network's quantized layers must lie in their sets.
  Algorithm& algo = trainer.algorithm();
  algo.begin_eval();
  json layers = json::array();
  int64_t float_bits = 0, quant_bits = 0;
  std::set<const Param*> quantized;
  bool all_in_set = true;
  for (auto& [p, set_size] : algo.quantized_params()) {
    quantized.insert(p);
    auto values = distinct(p->used);
    const int64_t rows = p->shape[0];
    // A set of `set_size` values per scale: per-channel scales allow that many per row.
    const int64_t allowed_total = set_size * rows;
    const bool per_row = static_cast<int64_t>(values.size()) > set_size;
    int64_t worst_row = 0;
    if (per_row) {
      const int64_t row_len = p->used.size() / rows;
      for (int64_t i = 0; i < rows; ++i) {
        std::set<float> rv(p->used.data() + i * row_len, p->used.data() + (i + 1) * row_len);
        worst_row = std::max<int64_t>(worst_row, static_cast<int64_t>(rv.size()));
      }
    }
    const bool ok = per_row ? worst_row <= set_size : true;
    all_in_set = all_in_set && ok && static_cast<int64_t>(values.size()) <= allowed_total;
    const int bits = index_bits(set_size);
    quant_bits += p->used.size() * bits + 32 * (per_row ? rows : 1);
    json l = {{"name", p->name},
              {"elements", p->used.size()},
              {"distinct_values", values.size()},
              {"allowed_per_scale", set_size},
              {"bits", bits},
              {"in_set", ok}};
    if (per_row) l["max_distinct_per_row"] = worst_row;
    if (values.size() <= 8) l["values"] = std::vector<float>(values.begin(), values.end());
    layers.push_back(l);
  }
  algo.end_eval();
  for (Param* p : trainer.model().params.params())
    if (!quantized.count(p)) float_bits += 32 * p->value.size();
  out["quantized_layers"] = layers;
  out["all_quantized_layers_in_set"] = all_in_set;
  out["model_size"] = {{"float_bits", 32 * trainer.model().params.count()},
                       {"quantized_bits", quant_bits + float_bits},
                       {"compression", static_cast<double>(32 * trainer.model().params.count()) /
                                           std::max<int64_t>(1, quant_bits + float_bits)}};
  if (!all_in_set)
    throw DataError("checkpoint " + path +
                    ": a quantized layer holds more values than its set allows: " + layers.dump());
  return out;
}

std::string format_evaluation(const json& r) {
  std::string s;
  char buf[256];
  std::snprintf(
      buf, sizeof buf, "%s (%s, %s) on %s/%s, epoch %d: loss %.4f, accuracy %.2f%% (%lld images)\n",
      r["checkpoint"].get<std::string>().c_str(), r["model"].get<std::string>().c_str(),
      r["algorithm"].get<std::string>().c_str(), r["dataset"].get<std::string>().c_str(),
      r["split"].get<std::string>().c_str(), r["epoch"].get<int>(), r["loss"].get<double>(),
      100 * r["accuracy"].get<double>(), static_cast<long long>(r["samples"].get<int64_t>()));
  s += buf;
  s += "\nper class accuracy and confusion (rows: true class, columns: predicted)\n";
  const auto& conf = r["confusion"];
  for (size_t c = 0; c < conf.size(); ++c) {
    std::snprintf(buf, sizeof buf, "%3zu %6.2f%% |", c,
                  100 * r["per_class_accuracy"][c].get<double>());
    s += buf;
    for (auto& v : conf[c]) {
      std::snprintf(buf, sizeof buf, " %5lld", static_cast<long long>(v.get<int64_t>()));
      s += buf;
    }
    s += "\n";
  }
  if (!r["quantized_layers"].empty()) {
    s += "\nquantized layers (distinct values of the evaluated weights)\n";
    for (auto& l : r["quantized_layers"]) {
      std::snprintf(buf, sizeof buf,
                    "  %-28s %9lld weights  %3lld distinct (set of %lld per scale, %d bit)  %s",
                    l["name"].get<std::string>().c_str(),
                    static_cast<long long>(l["elements"].get<int64_t>()),
                    static_cast<long long>(l["distinct_values"].get<int64_t>()),
                    static_cast<long long>(l["allowed_per_scale"].get<int64_t>()),
                    l["bits"].get<int>(), l["in_set"].get<bool>() ? "in set" : "NOT IN SET");
      s += buf;
      if (l.contains("values")) s += "  " + l["values"].dump();
      s += "\n";
    }
  }
  const auto& m = r["model_size"];
  std::snprintf(buf, sizeof buf,
                "\nmodel size: %.1f KiB at its quantized widths, %.1f KiB in float (%.1f×)\n",
                m["quantized_bits"].get<double>() / 8192, m["float_bits"].get<double>() / 8192,
                m["compression"].get<double>());
  s += buf;
  return s;
}

}  // namespace qt
