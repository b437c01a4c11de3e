#pragma once
#include <CLI/CLI.hpp>

namespace qt {

// `qtrain models [NAME]`: the models with their parameter counts, or one model's layer table.
void add_models_command(CLI::App& app);

}  // namespace qt
