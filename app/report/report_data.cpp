#include "app/report/report_data.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>

#include "app/config/config.h"
#include "app/config/options_algorithm.h"
#include "app/sweep/sweep_plan.h"
#include "app/sweep/sweep_spec.h"
#include "app/sweep/sweep_status.h"
#include "engine/core/bounded_json.h"
#include "engine/core/error.h"
#include "engine/core/files.h"

namespace qt {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

constexpr int kSchemaVersion = 1;
const char* const kNumberFields[] = {"lr",      "train_loss", "train_acc", "val_loss",
                                     "val_acc", "test_loss",  "test_acc"};

// "runs/a/" → "a", "." → the current folder's name.
std::string folder_name(const std::string& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

void check_schema(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("schema_version")) return;
  const json& v = j["schema_version"];
  if (!v.is_number_integer() || v.get<int>() != kSchemaVersion)
    throw DataError(where + ": schema_version " + v.dump() + " is not one this qtrain reads (" +
                    std::to_string(kSchemaVersion) + "): report it with the qtrain that wrote it");
}

json read_json_file(const std::string& path, const std::string& what) {
  json j;
  try {
    j = parse_bounded_json(read_file(path));
  } catch (const json::parse_error& e) {
    throw DataError(path + ": not valid JSON (" + e.what() + "): the " + what +
                    " is damaged; restore it or run again");
  }
  if (!j.is_object())
    throw DataError(path + ": expected a JSON object, found " + std::string(j.type_name()));
  check_schema(j, path);
  return j;
}

std::vector<json> read_metrics_file(const std::string& path) {
  std::vector<json> recs;
  std::ifstream in(path);
  if (!in) throw DataError(path + ": cannot open");
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = path + ": line " + std::to_string(line_no);
    json r;
    try {
      r = parse_bounded_json(line);
    } catch (const json::parse_error&) {
      throw DataError(
          at +
          " is not valid JSON: the run's metrics are damaged (a copy cut short?); copy the run "
          "again, or delete the line and resume the run with qtrain train --resume");
    }
    if (!r.is_object())
      throw DataError(at + ": expected a JSON object (one epoch's record), found " +
                      line.substr(0, 40));
    check_schema(r, at);
    const int expected = static_cast<int>(recs.size()) + 1;
    if (!r.contains("epoch") || !r["epoch"].is_number_integer())
      throw DataError(at + ": no integer \"epoch\": not a metrics record of qtrain train");
    if (r["epoch"].get<int>() != expected)
      throw DataError(at + ": epoch " + r["epoch"].dump() + " where epoch " +
                      std::to_string(expected) +
                      " was expected: the metrics are out of order or mixed from two runs");
    for (const char* f : kNumberFields)
      if (r.contains(f) && !r[f].is_number() &&
          !r[f].is_null())  // null: a NaN, as nlohmann writes it
        throw DataError(at + ": \"" + f + "\" is " + r[f].dump() + ", expected a number");
    recs.push_back(std::move(r));
  }
  return recs;
}

// Natural order: "seed=2" before "seed=10".
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      const std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      const std::string ta = na.substr(std::min(na.find_first_not_of('0'), na.size()));
      const std::string tb = nb.substr(std::min(nb.find_first_not_of('0'), nb.size()));
      if (ta.size() != tb.size()) return ta.size() < tb.size();
      if (ta != tb) return ta < tb;
      if (na.size() != nb.size()) return na.size() > nb.size();  // "0.01" before "0.1"
      i = ie, j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i, ++j;
    }
  }
  if (a.size() - i != b.size() - j) return a.size() - i < b.size() - j;
  return a < b;
}

void flatten(const json& j, const std::string& prefix, std::map<std::string, json>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it.value().is_object())
      flatten(it.value(), key, out);
    else
      out[key] = it.value();
  }
}

// Without a plan: the keys whose values differ between the runs are the parameters.
void infer_params(SweepData& s) {
  std::vector<std::map<std::string, json>> flat;
  std::vector<std::string> keys;
  for (auto& r : s.runs) {
    flat.emplace_back();
    flatten(r.config, "", flat.back());
    for (auto& [k, v] : flat.back())
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  auto differs = [&](const std::string& k) {
    for (size_t i = 1; i < flat.size(); ++i)
      if (flat[i][k] != flat[0][k]) return true;
    return false;
  };
  for (auto& k : keys) {
    if (k == "threads" || k == "schema_version") continue;
    // A default that follows another key (BinaryRelax's phase II follows the epochs) varies with
    // it: the key that varies is the parameter.
    const std::string source = default_follows(k);
    if (!source.empty() && differs(source)) continue;
    if (differs(k) && k != "seed") s.varied.push_back(k);
  }
  bool seeds_differ = false;
  for (size_t i = 1; i < flat.size(); ++i) seeds_differ |= flat[i]["seed"] != flat[0]["seed"];
  if (seeds_differ) s.varied.push_back("seed");
  for (size_t i = 0; i < s.runs.size(); ++i) {
    RunData& r = s.runs[i];
    r.params = ojson::object();
    std::string point;
    for (auto& k : s.varied) {
      r.params[k] = ojson::parse(flat[i][k].dump());
      if (k != "seed") point += (point.empty() ? "" : ",") + k + "=" + value_text(r.params[k]);
    }
    r.point = point.empty() ? "base" : point;
  }
}

// A run written before a key existed used its default: compared with newer runs (the varied
// parameters, the shared configuration), a missing key counts as that default.
json completed(const json& config) {
  try {
    return complete_config(config);
  } catch (const json::exception&) {
    return config;  // a key of the wrong kind (a number where a group is expected): as written
  }
}

}  // namespace

int RunData::planned_epochs() const {
  return config.is_object() && config.contains("epochs") && config["epochs"].is_number_integer()
             ? config["epochs"].get<int>()
             : 0;
}

bool is_run_dir(const std::string& dir) {
  return exists(dir + "/config.json");
}

RunData load_run_dir(const std::string& dir) {
  RunData r;
  r.dir = dir;
  r.name = folder_name(dir);
  if (!fs::is_directory(dir)) throw DataError(dir + ": no such run directory");
  const std::string config = dir + "/config.json";
  if (!exists(config)) {
    const bool has_run_files = exists(dir + "/metrics.jsonl") || exists(dir + "/summary.json");
    throw DataError(
        config + ": missing" +
        (has_run_files
             ? std::string(": the run's metrics are there but not its configuration (a partial "
                           "copy?); copy the whole run directory")
             : std::string(": not a run directory written by qtrain train")));
  }
  r.config = completed(read_json_file(config, "configuration"));
  if (exists(dir + "/metrics.jsonl")) r.epochs = read_metrics_file(dir + "/metrics.jsonl");
  if (exists(dir + "/summary.json"))
    r.summary = read_json_file(dir + "/summary.json", "run summary");
  std::vector<std::string> packages;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && exists((e.path() / "manifest.json").string()) &&
        exists((e.path() / "inference.json").string()))
      packages.push_back(e.path().filename().string());
  std::sort(packages.begin(), packages.end());
  for (const std::string& p : packages) {
    json inf = read_json_file(dir + "/" + p + "/inference.json", "packed inference result");
    if (!inf.is_object()) throw DataError(dir + "/" + p + "/inference.json: not a JSON object");
    inf["package_folder"] = p;
    r.inferences.push_back(std::move(inf));
  }
  const RunStatus st = read_run_status(dir);
  r.state = st.state == RunState::New ? RunState::Unfinished
                                      : st.state;  // config.json is there: it started
  r.error = st.error;
  return r;
}

SweepData load_sweep_dir(const std::string& dir) {
  SweepData s;
  s.dir = dir;
  if (exists(dir + "/plan.json")) {
    const Sweep plan = read_plan(dir);
    s.from_plan = true;
    s.name = plan.name;
    s.shape = plan.shape;
    for (const SweepRun& pr : plan.runs) {
      const std::string rd = dir + "/" + pr.name;
      RunData r;
      if (is_run_dir(rd)) {
        r = load_run_dir(rd);
      } else {
        if (exists(rd + "/metrics.jsonl"))
          load_run_dir(rd);  // throws the message for a damaged run
        const RunStatus st = read_run_status(rd);
        r.dir = rd;
        r.state = st.state == RunState::Unfinished ? RunState::New
                                                   : st.state;  // no config.json: not started
        r.error = st.error;
        r.config = completed(pr.config);
      }
      r.name = pr.name;
      r.params = pr.params;
      r.point = pr.point;
      for (auto it = pr.params.begin(); it != pr.params.end(); ++it)
        if (it.key() != "seed" &&
            std::find(s.varied.begin(), s.varied.end(), it.key()) == s.varied.end())
          s.varied.push_back(it.key());
      s.runs.push_back(std::move(r));
    }
    for (auto& r : s.runs)
      if (r.params.contains("seed")) {
        s.varied.push_back("seed");
        break;
      }
    return s;
  }
  s.name = folder_name(dir);
  std::vector<std::string> names;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_directory()) continue;
    const std::string sub = e.path().string();
    // A folder with metrics but no config.json is a damaged run, not something else.
    if (is_run_dir(sub) || exists(sub + "/metrics.jsonl"))
      names.push_back(e.path().filename().string());
  }
  if (names.empty())
    throw UsageError(
        dir +
        ": neither a run directory (no config.json) nor a sweep folder (no plan.json, no "
        "subfolder with a run): give the --out of qtrain train or qtrain sweep");
  std::sort(names.begin(), names.end(), natural_less);
  for (auto& n : names) s.runs.push_back(load_run_dir(dir + "/" + n));
  infer_params(s);
  return s;
}

}  // namespace qt
