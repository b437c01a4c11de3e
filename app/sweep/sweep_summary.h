#pragma once
// A sweep's results, gathered from its run directories:
//   SWEEP_DIR/sweep.csv         one row per run: parameters, status, final test accuracy, test
//                               accuracy at the best validation epoch, maximum, time
//   SWEEP_DIR/sweep_points.csv  one row per grid point: mean ± std over its seeds
//   SWEEP_DIR/sweep.json        both, with every field
// and a readable table. Written at the end of every sweep and by `qtrain sweep --summary DIR`.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "app/sweep/sweep_spec.h"
#include "app/sweep/sweep_status.h"

namespace qt {

struct SweepRow {
  std::string name, point, error;
  RunState status = RunState::Unfinished;  // a run not started yet counts as unfinished
  nlohmann::ordered_json params;
  int epochs_done = 0, epochs = 0;
  // test_at_best_val: the test accuracy at the best validation epoch (none without a validation
  // split); max_test: the highest test accuracy of a fully quantized epoch (app/run/best_epoch.h).
  std::optional<double> final_test, test_at_best_val, max_test, final_val, best_val, seconds;
  std::optional<int> best_epoch;
  std::string selected_by;  // how the best epoch was chosen: val_acc, or test_acc without a split
};

struct MeanStd {
  double mean = 0, std = 0;  // std: the sample standard deviation (n − 1), 0 for one run
  size_t n = 0;              // runs it is over
};

struct SweepPoint {
  std::string point;
  nlohmann::ordered_json params;  // the run parameters minus the seed
  int runs = 0, finished = 0;
  std::optional<MeanStd> final_test, test_at_best_val, max_test;  // over the finished runs
};

struct SweepSummary {
  std::string name, dir, file, shape;
  std::vector<SweepRow> rows;
  std::vector<SweepPoint> points;
  int finished = 0, unfinished = 0, failed = 0;
};

SweepSummary collect_summary(const Sweep& sweep);
MeanStd mean_std(const std::vector<double>& xs);
void write_summary(const SweepSummary& s);  // into s.dir, atomically
std::string summary_table(const SweepSummary& s);

}  // namespace qt
