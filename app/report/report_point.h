#pragma once
// The report's parts for one point (a run, or the seeds of a sweep's grid point): learning
// curves, the algorithm's own schedules (λ, θ, ρ, η, α per activation quantizer, the binary
// layers over time), projection error and flip ratio per layer, and its tables.
#include <nlohmann/json.hpp>
#include <vector>

#include "app/report/report_doc.h"
#include "app/report/report_groups.h"
#include "app/report/report_series.h"

namespace qt {

// Sections of figures ("Learning curves", "The algorithm's schedules", "Quantized layers"), the
// schedules with a few lines of text (BinaryRelax's phase II and its best phase-II accuracy, a
// constant ρ, the binarization order); empty when no epoch has finished. Seeds are drawn as
// bands of `band`.
std::vector<DocSection> point_figures(const PointData& point, BandKind band);
// One row per run: status, epochs, best epoch and accuracies, final and maximum test accuracy,
// time.
DocTable results_table(const std::vector<const RunData*>& runs, bool with_names);
// One row per epoch of a run: learning rate, losses and accuracies, the algorithm's scalars.
DocTable epoch_table(const RunData& run);
// Every key of a configuration, dotted ("optimizer.momentum"), with its value.
DocTable config_table(const nlohmann::json& config);

}  // namespace qt
