#pragma once
// The run configuration as one schema: every key has a flag, a type, a default, a one-line help
// and a range. Resolution: defaults ← --config FILE.json ← flags ← --set key.path=value; the
// resolved JSON is what config.json records and what builds the engine's TrainConfig.
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/train/train_config.h"

namespace qt {

enum class OptKind { Int, Float, String, Bool, IntList, StringList };

struct ConfigOption {
  std::string key;   // "optimizer.momentum": its place in config.json
  std::string flag;  // "--momentum" ("" = settable only by --config or --set)
  std::string help;
  OptKind kind = OptKind::String;
  nlohmann::json def;
  std::vector<std::string> choices;  // String: the allowed values ({} = any)
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::function<void(TrainConfig&, const nlohmann::json&)> apply;
  // What a configuration written before the key existed implies, when that differs from `def`
  // (null: `def`): such a run did what qtrain did then.
  nlohmann::json legacy = nullptr;
};

// The schema, gathered once from the groups below (each defined in its own file).
const std::vector<ConfigOption>& config_options();
void add_core_options(std::vector<ConfigOption>& out);       // options_core.cpp
void add_algorithm_options(std::vector<ConfigOption>& out);  // options_algorithm.cpp
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
// Checks across keys (e.g. epochs-per-layer ≤ epochs), beside each group's options.
using ConfigCheck = std::function<void(const nlohmann::json&)>;
void add_core_checks(std::vector<ConfigCheck>& out);
void add_algorithm_checks(std::vector<ConfigCheck>& out);
// A key missing from `cfg` (a config.json written before the key existed) counts as its default,
// in validate_config and to_train_config alike; complete_config adds those keys and resolves the
// defaults that follow the run's length (a null default, "auto" on the command line: e.g.
// BinaryRelax's phase II at 3/4 of the epochs), so that config.json records the numbers used.
TrainConfig to_train_config(const nlohmann::json& cfg);
nlohmann::json complete_config(const nlohmann::json& stored);
// Replaces each null (automatic) schedule key of the algorithms with its number for cfg's epochs;
// leaves explicit values alone.
void resolve_algorithm_defaults(nlohmann::json& cfg);  // options_algorithm.cpp
// The key whose value an automatic default follows ("epochs" for algo.phase2_epoch,
// algo.phase2_epoch for algo.lambda_growth); "" for any other key.
std::string default_follows(const std::string& key);  // options_algorithm.cpp

// The nearest known key or word, for "did you mean" hints ("" when nothing is close).
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace qt
