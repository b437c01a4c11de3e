#pragma once
// Which epoch stands for a run's result, read from its epoch records (metrics.jsonl): the one rule
// behind summary.json's "best" and "max_test_acc", the sweep summary and the report.
//   best: the highest validation accuracy (the highest test accuracy without a validation split),
//         among the epochs whose evaluated network is fully quantized (algorithm.fully_quantized;
//         a float run's epochs all are), or among all epochs when none is (a run stopped early);
//         the earliest epoch on a tie.
//   max test: the highest test accuracy of a fully quantized epoch (none when no epoch is): what
//         some papers report, not a fair model selection.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace qt {

struct BestEpoch {
  std::optional<size_t> index;     // into the records; none when no record has the accuracy
  std::string selected_by;         // "val_acc" when any record has one, else "test_acc"
  bool fully_quantized = false;    // the best epoch's network lies in its quantized sets
  std::optional<double> max_test;  // over the fully quantized epochs
};

// Whether an epoch record's evaluated network is fully quantized (true without an "algorithm").
bool fully_quantized(const nlohmann::json& record);
BestEpoch best_epoch(const std::vector<nlohmann::json>& records);

}  // namespace qt
