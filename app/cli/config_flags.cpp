#include "app/cli/config_flags.h"

#include <charconv>
#include <cmath>
#include <sstream>

#include "app/config/config.h"
#include "engine/core/error.h"

namespace qt {

using json = nlohmann::json;

namespace {

std::string default_text(const ConfigOption& o) {
  if (o.def.is_null()) return "auto";
  if (o.def.is_string())
    return o.def.get<std::string>().empty() ? "\"\"" : o.def.get<std::string>();
  if (o.def.is_array()) {
    std::string s;
    for (auto& e : o.def)
      s += (s.empty() ? "" : ",") + (e.is_string() ? e.get<std::string>() : e.dump());
    return s.empty() ? "none" : s;
  }
  return o.def.dump();
}

std::string choices_text(const ConfigOption& o) {
  if (o.choices.empty()) return "";
  std::string s = " {";
  for (size_t i = 0; i < o.choices.size(); ++i) s += (i ? "|" : "") + o.choices[i];
  return s + "}";
}

const char* type_name(OptKind k) {
  switch (k) {
    case OptKind::Int:
      return "INT";
    case OptKind::Float:
      return "FLOAT";
    case OptKind::String:
      return "TEXT";
    case OptKind::Bool:
      return "";
    case OptKind::IntList:
      return "INT,...";
    case OptKind::StringList:
      return "TEXT,...";
  }
  return "";
}

}  // namespace

void add_config_flags(CLI::App& cmd, ConfigFlags& f, const std::set<std::string>& skip) {
  cmd.add_option("--config", f.config_file,
                 "JSON file of settings (keys as in config.json), applied before flags");
  cmd.add_option("--set", f.sets,
                 "override any key: --set optimizer.momentum=0.95 (repeatable), applied last");
  for (auto& o : config_options()) {
    if (o.flag.empty() || skip.count(o.key)) continue;
    const std::string help =
        o.help + choices_text(o) + " [default: " + default_text(o) + "] (" + o.key + ")";
    if (o.kind == OptKind::Bool) {
      f.bools[o.key] = o.def.get<bool>();
      f.options[o.key] = cmd.add_flag(o.flag + ",!--no-" + o.flag.substr(2), f.bools[o.key], help);
    } else {
      f.options[o.key] = cmd.add_option(o.flag, f.text[o.key], help)->type_name(type_name(o.kind));
    }
  }
}

json resolve_config(const ConfigFlags& f) {
  json cfg = default_config();
  if (!f.config_file.empty()) merge_config(cfg, read_config_file(f.config_file), f.config_file);
  for (auto& o : config_options()) {
    auto it = f.options.find(o.key);
    if (it == f.options.end() || it->second->count() == 0) continue;
    json v = o.kind == OptKind::Bool ? json(f.bools.at(o.key))
                                     : parse_value(o, f.text.at(o.key), o.flag);
    set_value(cfg, o.key, v, o.flag);
  }
  for (auto& s : f.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos) throw UsageError("--set '" + s + "': expected key.path=value");
    const std::string key = s.substr(0, eq);
    const ConfigOption* o = find_option(key);
    if (!o) set_value(cfg, key, nullptr, "--set");  // throws the unknown-key message
    set_value(cfg, key, parse_value(*o, s.substr(eq + 1), "--set " + key), "--set");
  }
  return cfg;
}

CLI::Validator finite_number(double min, double max) {
  std::ostringstream desc;
  if (std::isinf(max))
    desc << "≥ " << min;
  else
    desc << min << " … " << max;
  return CLI::Validator(
      [min, max, range = desc.str()](std::string& text) -> std::string {
        double v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size())
          return "'" + text + "' is not a number";
        if (!std::isfinite(v)) return "'" + text + "' is not a finite number";
        if (v < min || v > max) return text + " is out of range: allowed " + range;
        return "";
      },
      desc.str());
}

}  // namespace qt
