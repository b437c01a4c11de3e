#pragma once
// SWEEP_DIR/plan.json: the expanded sweep (each run's name, parameters, grid point and
// configuration), written when a sweep starts. It is what `qtrain sweep --summary DIR` reads,
// so a summary needs only the folder, on any machine that sees it.
#include <string>

#include "app/sweep/sweep_spec.h"

namespace qt {

void write_plan(const Sweep& sweep, const std::string& dir);
// UsageError when DIR holds no plan.json; DataError when it cannot be read.
Sweep read_plan(const std::string& dir);

}  // namespace qt
