#pragma once
// The options every run has: model, data, schedule, optimizer, seed, threads.
#include <vector>

#include "app/config/config_option.h"

namespace qt {

void add_core_options(std::vector<ConfigOption>& out);
void add_core_checks(std::vector<ConfigCheck>& out);

}  // namespace qt
