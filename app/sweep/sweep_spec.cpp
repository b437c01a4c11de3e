#include "app/sweep/sweep_spec.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "app/config/config.h"
#include "app/run/run_training.h"
#include "engine/core/bounded_json.h"
#include "engine/core/error.h"

namespace qt {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kTopKeys = {"name", "description", "out",  "base",
                                           "grid", "zip",         "runs", "seeds"};
constexpr size_t kMaxNameLength = 120;
// A sweep file of a few lines can describe more runs than memory holds (ten keys of ten values
// are 10^10 runs): the count is checked before any run is built.
constexpr uint64_t kMaxRuns = 10000;

using KeyValues = std::vector<std::pair<std::string, ojson>>;

// The leaves of a nested or dotted object, as schema keys: {"algo": {"name": x}} → ("algo.name",
// x).
KeyValues flatten(const ojson& node, const std::string& where) {
  if (!node.is_object()) throw UsageError(where + ": expected a JSON object, got " + node.dump());
  KeyValues out;
  std::function<void(const ojson&, const std::string&)> walk = [&](const ojson& n,
                                                                   const std::string& prefix) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
      if (it.value().is_object() && !find_option(key)) {
        walk(it.value(), key);
        continue;
      }
      if (key == "threads")
        throw UsageError(where +
                         ": 'threads' is chosen by qtrain sweep (--jobs, --threads): remove it");
      out.emplace_back(key, it.value());
    }
  };
  walk(node, "");
  return out;
}

// Checks a key and its value's type against the schema (UsageError with "did you mean").
void check_value(const std::string& key, const ojson& value, const std::string& where) {
  json scratch = json::object();
  set_value(scratch, key, json::parse(value.dump()), where);
}

// One dimension of the grid: a grid key alone, or a zip group's keys varying together.
struct Dim {
  std::vector<std::string> keys;
  std::vector<std::vector<ojson>> values;  // values[key][i]
  size_t size() const { return values.empty() ? 0 : values[0].size(); }
};

std::vector<ojson> value_list(const ojson& v, const std::string& key, const std::string& where) {
  if (!v.is_array() || v.empty())
    throw UsageError(where + ": '" + key + "' must be a non-empty list of values, got " + v.dump() +
                     " (a single value belongs in \"base\")");
  std::vector<ojson> out(v.begin(), v.end());
  for (auto& e : out) check_value(key, e, where);
  return out;
}

std::vector<Dim> grid_dims(const ojson& spec, const std::string& where,
                           std::set<std::string>& seen) {
  std::vector<Dim> dims;
  auto claim = [&](const std::string& key, const std::string& at) {
    if (!seen.insert(key).second)
      throw UsageError(at + ": '" + key +
                       "' is varied twice (in \"grid\" and \"zip\", or in two zip groups)");
  };
  if (spec.contains("grid")) {
    const std::string at = where + ": grid";
    for (auto& [key, v] : flatten(spec["grid"], at)) {
      claim(key, at);
      dims.push_back({{key}, {value_list(v, key, at)}});
    }
  }
  if (spec.contains("zip")) {
    const ojson& zip = spec["zip"];
    if (!zip.is_array())
      throw UsageError(where +
                       ": \"zip\" must be a list of groups, e.g. [{\"a\": [1, 2], \"b\": [3, 4]}]");
    for (size_t g = 0; g < zip.size(); ++g) {
      const std::string at = where + ": zip group " + std::to_string(g + 1);
      Dim d;
      for (auto& [key, v] : flatten(zip[g], at)) {
        claim(key, at);
        d.keys.push_back(key);
        d.values.push_back(value_list(v, key, at));
        if (d.values.back().size() != d.values.front().size())
          throw UsageError(at + ": '" + key + "' has " + std::to_string(d.values.back().size()) +
                           " values, '" + d.keys.front() + "' has " +
                           std::to_string(d.values.front().size()) +
                           ": the lists of a zip group vary together and need the same length");
      }
      if (d.keys.empty()) throw UsageError(at + ": an empty group: remove it or give it keys");
      dims.push_back(std::move(d));
    }
  }
  return dims;
}

// Every combination of the dimensions, first dimension slowest.
std::vector<ojson> product(const std::vector<Dim>& dims) {
  std::vector<ojson> points;
  if (dims.empty()) return points;
  std::vector<size_t> at(dims.size(), 0);
  while (true) {
    ojson p = ojson::object();
    for (size_t d = 0; d < dims.size(); ++d)
      for (size_t k = 0; k < dims[d].keys.size(); ++k)
        p[dims[d].keys[k]] = dims[d].values[k][at[d]];
    points.push_back(std::move(p));
    size_t d = dims.size();
    while (d > 0 && ++at[d - 1] == dims[d - 1].size()) at[--d] = 0;
    if (d == 0) return points;
  }
}

std::vector<long long> seed_list(const ojson& spec, const std::string& where) {
  std::vector<long long> seeds;
  std::set<long long> seen;
  if (!spec.contains("seeds")) return seeds;
  const ojson& s = spec["seeds"];
  if (!s.is_array() || s.empty())
    throw UsageError(where + ": \"seeds\" must be a non-empty list of integers, e.g. [0, 1, 2]");
  for (auto& e : s) {
    if (!e.is_number_integer() || e.get<long long>() < 0)
      throw UsageError(where + ": seeds: " + e.dump() + " is not a non-negative integer");
    if (!seen.insert(e.get<long long>()).second)
      throw UsageError(where + ": seeds: " + e.dump() + " is listed twice");
    seeds.push_back(e.get<long long>());
  }
  return seeds;
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                    c == '-' || c == '=' || c == ',' || c == '+';
    out += ok ? c : '_';
  }
  if (out.empty() || out[0] == '.') out = "_" + out;
  return out;
}

std::string params_name(const ojson& params, bool with_seed, const json& config) {
  std::string s;
  for (auto it = params.begin(); it != params.end(); ++it) {
    if (!with_seed && it.key() == "seed") continue;
    s += (s.empty() ? "" : ",") + it.key() + "=" + value_text(it.value());
  }
  if (s.empty()) s = "base";
  s = sanitize(s);
  if (s.size() > kMaxNameLength) s = s.substr(0, kMaxNameLength - 9) + "-" + config_hash(config);
  return s;
}

json without_threads(json c) {
  c.erase("threads");
  return c;
}

std::string join_sizes(const std::vector<Dim>& dims) {
  std::string s;
  for (auto& d : dims) s += (s.empty() ? "" : " × ") + std::to_string(d.size());
  return s;
}

}  // namespace

std::string value_text(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    if (v.empty()) return "none";
    std::string s;
    for (auto& e : v) s += (s.empty() ? "" : "+") + value_text(e);
    return s;
  }
  return v.dump();
}

namespace {

void check_top_keys(const ojson& spec, const std::string& where) {
  if (!spec.is_object())
    throw UsageError(
        where + ": expected a JSON object with \"base\", \"grid\", \"zip\", \"runs\", \"seeds\"");
  for (auto it = spec.begin(); it != spec.end(); ++it)
    if (std::find(kTopKeys.begin(), kTopKeys.end(), it.key()) == kTopKeys.end()) {
      std::string m = where + ": unknown top-level key '" + it.key() + "'";
      std::string near = nearest(it.key(), kTopKeys);
      if (!near.empty()) m += " (did you mean '" + near + "'?)";
      throw UsageError(m + "; docs/sweeps.md describes the format");
    }
  for (const char* k : {"name", "out", "description"})
    if (spec.contains(k) && !spec[k].is_string())
      throw UsageError(where + ": \"" + k + "\" must be a string");
}

// The explicit "runs", each a point of its own.
std::vector<ojson> explicit_points(const ojson& spec, const std::string& where) {
  std::vector<ojson> points;
  if (!spec.contains("runs")) return points;
  const ojson& runs = spec["runs"];
  if (!runs.is_array())
    throw UsageError(where + ": \"runs\" must be a list of objects, e.g. [{\"lr\": 0.5}]");
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string at = where + ": runs[" + std::to_string(i) + "]";
    ojson p = ojson::object();
    for (auto& [key, v] : flatten(runs[i], at)) {
      check_value(key, v, at);
      p[key] = v;
    }
    points.push_back(std::move(p));
  }
  return points;
}

// One run: base ← params, named and validated.
SweepRun make_run(const json& base, ojson params, const std::string& where) {
  SweepRun run;
  run.params = std::move(params);
  run.config = base;
  for (auto it = run.params.begin(); it != run.params.end(); ++it)
    set_value(run.config, it.key(), json::parse(it.value().dump()), where);
  run.name = params_name(run.params, true, run.config);
  run.point = params_name(run.params, false, run.config);
  try {
    run.config = complete_config(run.config);  // the numbers of the defaults that follow epochs
    validate_config(run.config);
  } catch (const UsageError& e) {
    throw UsageError(where + ": run " + run.name + ": " + e.what());
  }
  return run;
}

// Adds a run unless an identical one is there; a different run of the same name gets its hash.
void add_unique(Sweep& sw, std::map<std::string, size_t>& by_name, SweepRun run) {
  auto found = by_name.find(run.name);
  if (found != by_name.end()) {
    if (without_threads(sw.runs[found->second].config) == without_threads(run.config)) {
      ++sw.duplicates;
      return;
    }
    run.name += "-" + config_hash(run.config);
    if (by_name.count(run.name)) {
      ++sw.duplicates;
      return;
    }
  }
  by_name[run.name] = sw.runs.size();
  sw.runs.push_back(std::move(run));
}

std::string shape_text(const std::vector<Dim>& dims, size_t explicit_runs, size_t seeds,
                       int duplicates) {
  std::string shape;
  if (!dims.empty()) shape = join_sizes(dims) + (dims.size() > 1 ? " grid" : " values");
  if (explicit_runs)
    shape += (shape.empty() ? "" : " + ") + std::to_string(explicit_runs) +
             (explicit_runs == 1 ? " run" : " runs");
  if (shape.empty()) shape = "the base configuration";
  if (seeds) shape += ", × " + std::to_string(seeds) + (seeds == 1 ? " seed" : " seeds");
  if (duplicates)
    shape += " (" + std::to_string(duplicates) + " duplicate" + (duplicates == 1 ? "" : "s") +
             " run once)";
  return shape;
}

}  // namespace

Sweep expand_sweep(const ojson& spec, const std::string& where) {
  check_top_keys(spec, where);
  Sweep sw;
  sw.name = spec.value("name", std::string("sweep"));
  sw.out = spec.value("out", std::string("runs/sweep-" + sanitize(sw.name)));
  if (sw.out.empty())
    throw UsageError(where + ": \"out\" is empty: give the folder for the sweep's runs");

  json base = default_config();
  if (spec.contains("base"))
    for (auto& [key, v] : flatten(spec["base"], where + ": base"))
      set_value(base, key, json::parse(v.dump()), where + ": base");

  std::set<std::string> varied;
  const std::vector<Dim> dims = grid_dims(spec, where, varied);
  const std::vector<ojson> singles = explicit_points(spec, where);
  const std::vector<long long> seeds = seed_list(spec, where);
  uint64_t grid_points = dims.empty() ? 0 : 1;
  bool too_many = false;
  for (const Dim& d : dims)
    too_many = too_many || __builtin_mul_overflow(grid_points, d.size(), &grid_points);
  const uint64_t points_count = std::max<uint64_t>(1, grid_points + singles.size());
  uint64_t run_count = 0;
  too_many = too_many ||
             __builtin_mul_overflow(points_count, std::max<size_t>(1, seeds.size()), &run_count);
  if (too_many || run_count > kMaxRuns)
    throw UsageError(where + ": expands to " +
                     (too_many ? std::string("more than 2^64") : std::to_string(run_count)) +
                     " runs (" +
                     (dims.empty() ? std::string("no grid") : join_sizes(dims) + " grid") + ", " +
                     std::to_string(singles.size()) + " explicit runs, " +
                     std::to_string(std::max<size_t>(1, seeds.size())) + " seeds): at most " +
                     std::to_string(kMaxRuns) + " are allowed; split it into several sweeps");
  std::vector<ojson> points = product(dims);
  points.insert(points.end(), singles.begin(), singles.end());
  if (points.empty()) points.push_back(ojson::object());  // the base configuration alone

  if (!seeds.empty())
    for (auto& p : points)
      if (p.contains("seed"))
        throw UsageError(
            where +
            ": 'seed' is varied in \"grid\", \"zip\" or \"runs\" and also by \"seeds\": keep one");

  std::map<std::string, size_t> by_name;
  for (auto& point : points) {
    if (seeds.empty()) add_unique(sw, by_name, make_run(base, point, where));
    for (long long seed : seeds) {
      ojson params = point;
      params["seed"] = seed;
      add_unique(sw, by_name, make_run(base, std::move(params), where));
    }
  }
  sw.shape = shape_text(dims, singles.size(), seeds.size(), sw.duplicates);
  return sw;
}

Sweep load_sweep(const std::string& path) {
  const std::string where = "sweep file '" + path + "'";
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read the sweep file '" + path + "': check the path");
  ojson spec;
  try {
    spec = parse_bounded_json<ojson>(in);
  } catch (const ojson::parse_error& e) {
    throw UsageError(where + " is not valid JSON: " + e.what());
  }
  if (spec.is_object() && !spec.contains("name")) spec["name"] = fs::path(path).stem().string();
  Sweep sw = expand_sweep(spec, where);
  sw.file = fs::absolute(path).lexically_normal().string();
  return sw;
}

Shard parse_shard(const std::string& text) {
  Shard s;
  const auto slash = text.find('/');
  auto bad = [&] {
    return UsageError(
        "--shard '" + text +
        "': expected i/n with 0 ≤ i < n, e.g. --shard 0/4 (run k goes to shard k mod n)");
  };
  if (slash == std::string::npos) throw bad();
  try {
    size_t a = 0, b = 0;
    s.index = std::stoi(text.substr(0, slash), &a);
    s.count = std::stoi(text.substr(slash + 1), &b);
    if (a != slash || b != text.size() - slash - 1) throw bad();
  } catch (const std::logic_error&) {
    throw bad();
  }
  if (s.count < 1 || s.index < 0 || s.index >= s.count) throw bad();
  return s;
}

bool in_shard(size_t run_index, const Shard& s) {
  return run_index % static_cast<size_t>(s.count) == static_cast<size_t>(s.index);
}

}  // namespace qt
