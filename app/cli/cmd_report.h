#pragma once
#include <CLI/CLI.hpp>

namespace qt {

// `qtrain report RUN_OR_SWEEP_DIR`: report.html (plots) and report.md (tables), see
// app/report/report.h.
void add_report_command(CLI::App& app);

}  // namespace qt
