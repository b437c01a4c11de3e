#pragma once
// One key of the run configuration's schema (config.h): its place in config.json, its flag, type,
// default, help line and range, and how it sets the TrainConfig. Entries name their fields
// (designated initializers); `= {}` keeps -Wextra quiet about the ones an entry leaves out.
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/train/train_config.h"

namespace qt {

enum class OptKind { Int, Float, String, Bool, IntList, StringList };

struct ConfigOption {
  std::string key;        // "optimizer.momentum": its place in config.json
  std::string flag = {};  // "--momentum" ("" = settable only by --config or --set)
  std::string help;
  OptKind kind = OptKind::String;
  nlohmann::json def;
  std::vector<std::string> choices = {};  // String: the allowed values ({} = any)
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::function<void(TrainConfig&, const nlohmann::json&)> apply = {};
  // What a configuration written before the key existed implies, when that differs from `def`
  // (null: `def`): such a run did what qtrain did then.
  nlohmann::json legacy = nullptr;
};

// A check across keys (e.g. epochs-per-layer ≤ epochs), beside each group's options: throws
// UsageError on a configuration it refuses.
using ConfigCheck = std::function<void(const nlohmann::json&)>;

}  // namespace qt
