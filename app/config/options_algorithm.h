#pragma once
// The options of the training algorithms ("algo.*"), with the papers' defaults; the schedules
// that the papers set in epochs default to the same fractions of the run.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/config/config_option.h"

namespace qt {

void add_algorithm_options(std::vector<ConfigOption>& out);
void add_algorithm_checks(std::vector<ConfigCheck>& out);
// Replaces each null (automatic) schedule key of the algorithms with its number for cfg's epochs;
// leaves explicit values alone.
void resolve_algorithm_defaults(nlohmann::json& cfg);
// The key whose value an automatic default follows ("epochs" for algo.phase2_epoch,
// algo.phase2_epoch for algo.lambda_growth); "" for any other key.
std::string default_follows(const std::string& key);

}  // namespace qt
