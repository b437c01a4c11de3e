#pragma once
// The sensitivity file of Iterative Training: for each layer, the validation accuracy and loss of
// a short run in which only that layer is binary (`qtrain sensitivity` writes it,
// `--order sensitivity-ascending|descending:FILE` reads it).
//
//   {"kind": "qtrain-sensitivity", "model": "lenet5", "epochs": 2, "seed": 0,
//    "layers": [{"layer": "conv1", "val_acc": 0.84, "val_loss": 0.45}, ...]}
//
// A layer is the less sensitive the higher its accuracy (then the lower its loss): ascending
// order binarizes the least sensitive layer first.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qt {

struct LayerSensitivity {
  std::string layer;
  double val_acc = 0, val_loss = 0;
};

struct SensitivityReport {
  std::string model;
  int epochs = 0;
  uint64_t seed = 0;
  std::vector<LayerSensitivity> layers;  // in forward order
};

nlohmann::json sensitivity_json(const SensitivityReport& r);
void write_sensitivity(const std::string& path, const SensitivityReport& r);
// Throws DataError naming the file when it is missing or not a sensitivity file.
SensitivityReport read_sensitivity(const std::string& path);
// Layer names, least sensitive first (ascending) or most sensitive first; ties keep forward order.
std::vector<std::string> sensitivity_order(const SensitivityReport& r, bool ascending);

}  // namespace qt
