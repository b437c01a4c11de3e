#pragma once
#include <CLI/CLI.hpp>

namespace qt {

// `qtrain eval CHECKPOINT`: accuracy, per-class accuracy, confusion, quantized-set check.
void add_eval_command(CLI::App& app);
// `qtrain infer PACKAGE`: the package on the packed engine (also `qtrain eval PACKAGE --engine
// packed`).
void add_infer_command(CLI::App& app);
// `qtrain export CHECKPOINT --out DIR`: the packed network and its manifest.
void add_export_command(CLI::App& app);

}  // namespace qt
