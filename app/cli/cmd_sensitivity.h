#pragma once
// `qtrain sensitivity`: Iterative Training's sensitivity pre-training. For each layer that
// iterative would quantize, one short run from the same seeded initialisation with only that
// layer binary (sign(w)); the layers' validation accuracy and loss go to a JSON file that
// `--order sensitivity-ascending|descending:FILE` reads.
#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>

#include "engine/quant/sensitivity.h"

namespace qt {

// `config` is a resolved, validated run configuration; each layer's run trains it for its
// `epochs` with --algo iterative restricted to that layer (the configured algorithm is ignored).
// `jobs` runs go at once, sharing the configured threads (0 = one per core, each single-threaded).
// Results do not depend on `jobs`. on_layer is called as each layer finishes (from one thread at a
// time).
SensitivityReport run_sensitivity(
    const nlohmann::json& config, int jobs = 0,
    const std::function<void(const LayerSensitivity&)>& on_layer = {});

void add_sensitivity_command(CLI::App& app);

}  // namespace qt
