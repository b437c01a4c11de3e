#pragma once
// Numbers out of the runs: one field per epoch, its mean and spread over a point's seeds, and
// each run's results (final, best by validation, maximum test accuracy, time).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/report/report_data.h"
#include "app/report/report_groups.h"

namespace qt {

enum class BandKind { MinMax, MeanStd };

// The number at `path` in an epoch record ({"test_acc"}, {"algorithm", "proj_error", "conv1"});
// NaN when absent, null (a NaN written by JSON) or not a number.
double record_value(const nlohmann::json& rec, const std::vector<std::string>& path);

// Per epoch (x = 1, 2, …), over the runs that have the value: the mean, and the band (min–max,
// or mean ± sample std). `scale` multiplies every value (100 for percentages).
struct EpochBand {
  std::vector<double> x, mean, lo, hi;
  bool any = false;  // some epoch has a value
};
EpochBand epoch_band(const std::vector<const RunData*>& runs, const std::vector<std::string>& path,
                     BandKind kind, double scale = 1);

// The keys of the object at `path` over every record of the runs (layer or quantizer names),
// in order of first appearance.
std::vector<std::string> record_keys(const std::vector<const RunData*>& runs,
                                     const std::vector<std::string>& path);

// One run's results, from its metrics (NaN when unknown), selected as summary.json does
// (app/run/best_epoch.h): best_test is the test accuracy at the best validation epoch (NaN without
// a validation split), max_test the highest test accuracy of a fully quantized epoch.
struct RunNumbers {
  int epochs = 0;
  double final_test = NAN, best_test = NAN, best_val = NAN, max_test = NAN;
  int best_epoch = 0;
  std::string selected_by;  // val_acc | test_acc
  double seconds = NAN, images_per_second = NAN;
};
RunNumbers run_numbers(const RunData& run);

struct SeedStats {
  double mean = NAN, std = NAN, min = NAN,
         max = NAN;  // std: the sample standard deviation (0 for one value)
  size_t n = 0;
};
SeedStats seed_stats(const std::vector<double>& values);  // NaN values are left out

// The runs whose results a point reports: its finished runs, or when none has finished, every
// run with at least one epoch (then the numbers are "so far").
std::vector<const RunData*> counted_runs(const PointData& point);

}  // namespace qt
