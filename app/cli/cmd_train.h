#pragma once
#include <CLI/CLI.hpp>

namespace qt {

// `qtrain train`: every key of the config schema as a flag, plus --config, --set, --out.
void add_train_command(CLI::App& app);

}  // namespace qt
