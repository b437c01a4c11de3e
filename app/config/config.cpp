#include "app/config/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include "app/config/options_algorithm.h"
#include "app/config/options_core.h"
#include "engine/core/bounded_json.h"
#include "engine/core/error.h"

namespace qt {

namespace {

using json = nlohmann::json;

const std::vector<ConfigCheck>& checks() {
  static const std::vector<ConfigCheck> c = [] {
    std::vector<ConfigCheck> v;
    add_core_checks(v);
    add_algorithm_checks(v);
    return v;
  }();
  return c;
}

json::json_pointer pointer(const std::string& key) {
  std::string p = "/" + key;
  std::replace(p.begin(), p.end(), '.', '/');
  return json::json_pointer(p);
}

std::vector<std::string> all_keys() {
  std::vector<std::string> keys;
  for (auto& o : config_options()) keys.push_back(o.key);
  return keys;
}

std::string unknown_key_message(const std::string& key, const std::string& where) {
  std::string m = where + ": unknown key '" + key + "'";
  std::string near = nearest(key, all_keys());
  if (!near.empty()) m += " (did you mean '" + near + "'?)";
  return m + "; `qtrain train --help` lists every key";
}

const char* kind_name(OptKind k) {
  switch (k) {
    case OptKind::Int:
      return "an integer";
    case OptKind::Float:
      return "a number";
    case OptKind::String:
      return "a string";
    case OptKind::Bool:
      return "true or false";
    case OptKind::IntList:
      return "a list of integers";
    case OptKind::StringList:
      return "a list of strings";
  }
  return "?";
}

bool has_kind(const json& v, OptKind k) {
  switch (k) {
    case OptKind::Int:
      return v.is_number_integer();
    case OptKind::Float:
      return v.is_number();
    case OptKind::String:
      return v.is_string();
    case OptKind::Bool:
      return v.is_boolean();
    case OptKind::IntList:
      return v.is_array() &&
             std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_number_integer(); });
    case OptKind::StringList:
      return v.is_array() &&
             std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); });
  }
  return false;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> r;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) r.push_back(item);
  return r;
}

}  // namespace

const std::vector<ConfigOption>& config_options() {
  static const std::vector<ConfigOption> options = [] {
    std::vector<ConfigOption> v;
    add_core_options(v);
    add_algorithm_options(v);
    return v;
  }();
  return options;
}

const ConfigOption* find_option(const std::string& key) {
  for (auto& o : config_options())
    if (o.key == key) return &o;
  return nullptr;
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  // The distance costs |word| × |candidate|: a megabyte of a mistyped key gets no hint.
  if (word.size() > 256) return "";
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  auto common_prefix = [](const std::string& a, const std::string& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
  };
  std::string best;
  size_t best_d = std::max<size_t>(3, word.size() / 3) + 1, best_prefix = 0;
  for (auto& c : candidates) {
    // A key named by its last component alone ("momentum") also counts as close.
    size_t d = distance(word, c);
    auto dot = c.rfind('.');
    const std::string last = dot == std::string::npos ? c : c.substr(dot + 1);
    d = std::min(d, distance(word, last));
    // Among equally distant keys, people mistype endings more than beginnings: "lrate" means
    // "lr", not "data.name".
    size_t prefix = std::max(common_prefix(word, c), common_prefix(word, last));
    if (d < best_d || (d == best_d && prefix > best_prefix))
      best_d = d, best = c, best_prefix = prefix;
  }
  return best;
}

json default_config() {
  json cfg = json::object();
  for (auto& o : config_options()) cfg[pointer(o.key)] = o.def;
  return cfg;
}

json parse_value(const ConfigOption& o, const std::string& text, const std::string& where) {
  auto fail = [&]() -> json {
    throw UsageError(where + ": '" + text + "' is not " + kind_name(o.kind) + " (for " + o.key +
                     ")");
  };
  if (o.def.is_null() && text == "auto") return nullptr;
  // from_chars takes the whole text or nothing: no blanks, no '+', no hexadecimal.
  auto integer = [&](const std::string& t) -> json {
    long long v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return fail();
    return v;
  };
  switch (o.kind) {
    case OptKind::Int:
      return integer(text);
    case OptKind::Float: {
      double v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return fail();
      // "nan" and "inf" parse, but no setting means them (a NaN would pass every range check).
      if (!std::isfinite(v))
        throw UsageError(where + ": '" + text + "' is not a finite number (for " + o.key + ")");
      return v;
    }
    case OptKind::String:
      return text;
    case OptKind::Bool:
      if (text == "true" || text == "1" || text == "on" || text == "yes") return true;
      if (text == "false" || text == "0" || text == "off" || text == "no") return false;
      return fail();
    case OptKind::IntList: {
      // "" is the empty list; otherwise every item between commas is an integer ("1,,2" is not).
      json a = json::array();
      if (text.empty()) return a;
      std::stringstream ss(text);
      std::string item;
      while (std::getline(ss, item, ',')) a.push_back(integer(item));
      if (text.back() == ',') fail();
      return a;
    }
    case OptKind::StringList: {
      json a = json::array();
      for (auto& p : split(text, ',')) a.push_back(p);
      return a;
    }
  }
  return fail();
}

void set_value(json& cfg, const std::string& key, const json& value, const std::string& where) {
  const ConfigOption* o = find_option(key);
  if (!o) throw UsageError(unknown_key_message(key, where));
  json v = value;
  if (o->kind == OptKind::Float && v.is_number()) v = v.get<double>();
  // null ("auto") asks for a default that follows the run (resolved by complete_config)
  if (!(v.is_null() && o->def.is_null()) && !has_kind(v, o->kind))
    throw UsageError(where + ": " + key + " must be " + kind_name(o->kind) + ", got " +
                     value.dump());
  cfg[pointer(key)] = v;
}

void merge_config(json& cfg, const json& file, const std::string& where) {
  if (!file.is_object()) throw UsageError(where + ": expected a JSON object at the top level");
  std::function<void(const json&, const std::string&)> walk = [&](const json& node,
                                                                  const std::string& prefix) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
      if (it.value().is_object() && !find_option(key)) {
        walk(it.value(), key);
        continue;
      }
      set_value(cfg, key, it.value(), where);
    }
  };
  walk(file, "");
}

json read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read config file '" + path + "': check the path");
  try {
    return parse_bounded_json(in);
  } catch (const json::parse_error& e) {
    throw UsageError("config file '" + path + "' is not valid JSON: " + e.what());
  }
}

void validate_config(const json& stored) {
  const json cfg = complete_config(stored);
  for (auto& o : config_options()) {
    const json& v = cfg.at(pointer(o.key));
    if (!has_kind(v, o.kind))
      throw UsageError(o.key + " must be " + kind_name(o.kind) + ", got " + v.dump());
    auto check_range = [&](double x) {
      if (!std::isfinite(x)) {
        std::ostringstream m;
        m << o.key << " = " << x << " is not a finite number";
        throw UsageError(m.str());
      }
      if (x < o.min || x > o.max) {
        std::ostringstream m;
        m << o.key << " = " << x << " is out of range: allowed ";
        if (std::isinf(o.max))
          m << "≥ " << o.min;
        else if (std::isinf(o.min))
          m << "≤ " << o.max;
        else
          m << o.min << " … " << o.max;
        throw UsageError(m.str());
      }
    };
    if (o.kind == OptKind::Int || o.kind == OptKind::Float) check_range(v.get<double>());
    if (o.kind == OptKind::IntList)
      for (auto& e : v) check_range(e.get<double>());
    if (o.kind == OptKind::String && !o.choices.empty() &&
        std::find(o.choices.begin(), o.choices.end(), v.get<std::string>()) == o.choices.end()) {
      std::string list;
      for (auto& c : o.choices) list += (list.empty() ? "" : ", ") + c;
      std::string m = o.key + " = '" + v.get<std::string>() + "' is not one of: " + list;
      std::string near = nearest(v.get<std::string>(), o.choices);
      if (!near.empty()) m += " (did you mean '" + near + "'?)";
      throw UsageError(m);
    }
  }
  for (auto& c : checks()) c(cfg);
}

TrainConfig to_train_config(const json& stored) {
  const json cfg = complete_config(stored);
  TrainConfig t;
  for (auto& o : config_options())
    if (o.apply) o.apply(t, cfg.at(pointer(o.key)));
  return t;
}

json complete_config(const json& stored) {
  json cfg = stored;
  for (auto& o : config_options())
    if (!cfg.contains(pointer(o.key))) cfg[pointer(o.key)] = o.legacy.is_null() ? o.def : o.legacy;
  resolve_algorithm_defaults(cfg);
  return cfg;
}

}  // namespace qt
