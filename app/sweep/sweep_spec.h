#pragma once
// A sweep file (docs/sweeps.md): a base configuration and the points to train it at.
//   {"base": {...}, "grid": {"lr": [0.01, 0.1]}, "zip": [{"algo.name": [...], "algo.bits": [...]}],
//    "runs": [{...}], "seeds": [0, 1], "out": "runs/sweep-name"}
// Grid lists expand as a cartesian product (first key slowest), each zip group is one more
// dimension whose lists vary together, explicit runs add single points, seeds multiply every
// point (innermost). Every key and value is checked against the config schema before any run.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qt {

struct SweepRun {
  std::string name;               // its directory under the sweep folder: "lr=0.1,model=mlp,seed=1"
  nlohmann::ordered_json params;  // the varied keys and their values, in file order, seed last
  std::string point;              // the grid point it belongs to: the name without the seed
  nlohmann::json config;          // the resolved, validated configuration (threads left at 0)
};

struct Sweep {
  std::string file;    // absolute path of the sweep file ("" when built from JSON)
  std::string name;    // "name", else the file's stem
  std::string out;     // the sweep folder: "out", else runs/sweep-<name> (relative to the cwd)
  std::string shape;   // how the runs came about, e.g. "2 × 2 grid + 1 run, × 3 seeds"
  int duplicates = 0;  // points given twice (same configuration), run once
  std::vector<SweepRun> runs;
};

// Reads, validates and expands a sweep file; UsageError naming the file on any problem.
Sweep load_sweep(const std::string& path);
// The same from parsed JSON; `where` starts every error message (the file's name).
Sweep expand_sweep(const nlohmann::ordered_json& spec, const std::string& where);

// --shard i/n: run k belongs to shard k mod n.
struct Shard {
  int index = 0, count = 1;
};
Shard parse_shard(const std::string& text);  // "2/5"; UsageError otherwise
bool in_shard(size_t run_index, const Shard& s);

// The text of a value in a run name: strings as they are, lists joined by '+'.
std::string value_text(const nlohmann::ordered_json& v);

}  // namespace qt
