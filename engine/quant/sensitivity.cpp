#include "engine/quant/sensitivity.h"

#include <algorithm>
#include <numeric>

#include "engine/core/error.h"
#include "engine/core/files.h"

namespace qt {

using json = nlohmann::json;

json sensitivity_json(const SensitivityReport& r) {
  json layers = json::array();
  for (auto& l : r.layers)
    layers.push_back({{"layer", l.layer}, {"val_acc", l.val_acc}, {"val_loss", l.val_loss}});
  return {{"kind", "qtrain-sensitivity"},
          {"model", r.model},
          {"epochs", r.epochs},
          {"seed", r.seed},
          {"layers", layers}};
}

void write_sensitivity(const std::string& path, const SensitivityReport& r) {
  write_file_atomic(path, sensitivity_json(r).dump(2) + "\n");
}

SensitivityReport read_sensitivity(const std::string& path) {
  const std::string text = read_file(path);
  SensitivityReport r;
  try {
    const json j = json::parse(text);
    if (j.value("kind", "") != "qtrain-sensitivity")
      throw DataError(path +
                      ": not a sensitivity file (expected \"kind\": \"qtrain-sensitivity\"; write "
                      "one with `qtrain sensitivity`)");
    r.model = j.at("model");
    r.epochs = j.value("epochs", 0);
    r.seed = j.value("seed", uint64_t{0});
    for (auto& l : j.at("layers"))
      r.layers.push_back({l.at("layer"), l.at("val_acc"), l.at("val_loss")});
  } catch (const json::exception& e) {
    throw DataError(path + ": not a valid sensitivity file: " + e.what());
  }
  if (r.layers.empty()) throw DataError(path + ": the sensitivity file lists no layers");
  return r;
}

std::vector<std::string> sensitivity_order(const SensitivityReport& r, bool ascending) {
  std::vector<size_t> idx(r.layers.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  // Less sensitive = higher accuracy, then lower loss.
  auto less_sensitive = [&](size_t a, size_t b) {
    const auto &x = r.layers[a], &y = r.layers[b];
    if (x.val_acc != y.val_acc) return x.val_acc > y.val_acc;
    return x.val_loss < y.val_loss;
  };
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return ascending ? less_sensitive(a, b) : less_sensitive(b, a);
  });
  std::vector<std::string> names;
  for (size_t i : idx) names.push_back(r.layers[i].layer);
  return names;
}

}  // namespace qt
