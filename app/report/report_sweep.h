#pragma once
// The report's parts that compare the points of a sweep: the summary table, the final accuracy
// of every point, accuracy against each varied parameter, and learning curves with one line per
// point (a panel per model or dataset when those vary).
#include <vector>

#include "app/report/report_doc.h"
#include "app/report/report_groups.h"
#include "app/report/report_series.h"

namespace qt {

// One row per point: its parameters, runs, epochs, and accuracies as mean ± std over the seeds
// counted (counted_runs); the point with the best mean final test accuracy in bold.
DocTable points_table(const SweepData& sweep, const std::vector<PointData>& points);
// Final test accuracy of every point: the mean as a dot, the seeds' min–max as a bar.
std::vector<DocFigure> accuracy_by_point(const std::vector<PointData>& points);
// For each varied parameter with at least two values in some line: final test accuracy against
// it, one line per combination of the other parameters, bars min–max over seeds.
std::vector<DocFigure> accuracy_vs_parameters(const SweepData& sweep,
                                              const std::vector<PointData>& points);
// Test, validation and train accuracy and loss per epoch, one line per point, seeds as bands.
std::vector<DocSection> sweep_curves(const SweepData& sweep, const std::vector<PointData>& points,
                                     BandKind band);
// The configuration keys every run shares, with their value (the varied ones left out).
DocTable shared_config_table(const SweepData& sweep);

}  // namespace qt
