#pragma once
// The run configuration as one schema: every key has a flag, a type, a default, a one-line help
// and a range. Resolution: defaults ← --config FILE.json ← flags ← --set key.path=value; the
// resolved JSON is what config.json records and what builds the engine's TrainConfig.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/config/config_option.h"
#include "app/train/train_config.h"

namespace qt {

// The schema, gathered once from its groups (options_core.h, options_algorithm.h).
const std::vector<ConfigOption>& config_options();
const ConfigOption* find_option(const std::string& key);

nlohmann::json default_config();
// Parses a command-line or --set text for `opt`; `where` names its origin in messages.
nlohmann::json parse_value(const ConfigOption& opt, const std::string& text,
                           const std::string& where);
// Sets `key` in the nested config; throws UsageError (with "did you mean") on unknown keys.
void set_value(nlohmann::json& cfg, const std::string& key, const nlohmann::json& value,
               const std::string& where);
// Merges a config file's JSON (nested objects); every leaf must be a known key of the right type.
void merge_config(nlohmann::json& cfg, const nlohmann::json& file, const std::string& where);
nlohmann::json read_config_file(const std::string& path);
// Types, ranges and choices of every key, plus the checks across keys; UsageError on the first
// problem.
void validate_config(const nlohmann::json& cfg);
// A key missing from `cfg` (a config.json written before the key existed) counts as its default,
// in validate_config and to_train_config alike; complete_config adds those keys and resolves the
// defaults that follow the run's length (a null default, "auto" on the command line: e.g.
// BinaryRelax's phase II at 3/4 of the epochs), so that config.json records the numbers used.
TrainConfig to_train_config(const nlohmann::json& cfg);
nlohmann::json complete_config(const nlohmann::json& stored);

// The nearest known key or word, for "did you mean" hints ("" when nothing is close).
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace qt
