#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/models/model.h"
#include "engine/quant/algo_options.h"
#include "engine/quant/quant_algorithm.h"

namespace qt {

// Throws UsageError on an unknown algorithm name, listing the valid ones.
std::unique_ptr<Algorithm> make_algorithm(const AlgoOptions& opt);
std::unique_ptr<QuantAlgorithm> make_quant_algorithm(const AlgoOptions& opt);
std::vector<std::string> algorithm_names();
// One line of --help per algorithm.
std::string algorithm_help();

// `qtrain train --list-layers`: every conv and linear layer of the model built under these options,
// whether and how it is quantized, and what the activation sites become. Builds its own model
// (`mo` gives the input shape and classes, e.g. natural_options(model)). `epochs`, the run's
// length, places schedules that follow it (Iterative Training's default spread).
std::string describe_layers(const std::string& model, ModelOptions mo, const AlgoOptions& opt,
                            int epochs = 0);

}  // namespace qt
