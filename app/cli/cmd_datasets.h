#pragma once
// `qtrain datasets list | info NAME | verify [NAME...]`: what is found where, what a dataset
// holds, and whether its files are intact. Callbacks throw qt errors; main maps them to exit codes.
#include <CLI/CLI.hpp>
#include <iostream>

namespace qt {

// `out` receives the reports; it must outlive `app`.
void add_datasets_command(CLI::App& app, std::ostream& out = std::cout);

}  // namespace qt
