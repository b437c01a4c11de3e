#pragma once
#include <memory>
#include <vector>
#include <string>

#include "engine/quant/algo_options.h"
#include "engine/quant/algorithm.h"

namespace qt {

// Throws UsageError on an unknown algorithm name, listing the valid ones.
std::unique_ptr<Algorithm> make_algorithm(const AlgoOptions& opt);
std::vector<std::string> algorithm_names();

}  // namespace qt
