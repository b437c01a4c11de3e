#pragma once
// The config schema on the command line, for every command that takes a run's configuration
// (`qtrain train`, `qtrain sensitivity`): --config FILE, one flag per key, --set key=value.
#include <CLI/CLI.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace qt {

struct ConfigFlags {
  std::string config_file;                      // --config
  std::vector<std::string> sets;                // --set key.path=value, in order
  std::map<std::string, std::string> text;      // key → the text given to its flag
  std::map<std::string, bool> bools;            // key → a Bool flag's value
  std::map<std::string, CLI::Option*> options;  // key → its flag (count() > 0 when given)
};

// Adds --config, --set and a flag for every key that has one, except the keys in `skip`; each
// help line ends with the key's choices, default and config key. `f` must outlive `cmd`'s parsing.
void add_config_flags(CLI::App& cmd, ConfigFlags& f, const std::set<std::string>& skip = {});
// Defaults ← the --config file ← the flags given ← --set; UsageError naming the key or the file.
// Not validated: the caller may change keys first, then calls validate_config.
nlohmann::json resolve_config(const ConfigFlags& f);

// A check for a number flag outside the schema (--checkpoint-every): a finite decimal number in
// [min, max]. CLI11's own Range and NonNegativeNumber let "nan" through.
CLI::Validator finite_number(double min, double max);

}  // namespace qt
