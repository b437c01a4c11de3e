#pragma once
// The report's input: run directories (docs/metrics.md) and sweep folders (docs/sweeps.md),
// read and checked. A damaged run directory — no config.json, a line of metrics.jsonl that is not
// a JSON object with the next epoch number, a summary.json that does not parse, a schema_version
// this qtrain does not know — is a DataError naming the file and the line. A run still in
// progress (summary "finished": false, or no summary or metrics yet) is not an error.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/sweep/sweep_status.h"

namespace qt {

struct RunData {
  std::string dir;                 // the run directory
  std::string name;                // its folder name (in a sweep: the run's name)
  RunState state = RunState::New;  // see sweep_status.h
  std::string error;               // failed: the error line of the last attempt
  nlohmann::json config;  // config.json (a sweep's planned run: the plan's configuration), the
                          // keys it lacks (written before they existed) at their defaults
  std::vector<nlohmann::json> epochs;  // metrics.jsonl, epoch 1, 2, … in order
  nlohmann::json summary;              // summary.json, null when absent
  // The results of `qtrain infer` on packages exported into the run directory (`qtrain export RUN
  // --out RUN/package`): each subfolder's inference.json, with "package_folder" added, by name.
  std::vector<nlohmann::json> inferences;
  nlohmann::ordered_json params;  // in a sweep: the parameters that vary, seed last
  std::string point;              // in a sweep: the grid point (the parameters but the seed)

  int planned_epochs() const;  // config "epochs" (0 when unknown)
};

struct SweepData {
  std::string dir, name, shape;
  std::vector<RunData> runs;        // in the sweep's order
  std::vector<std::string> varied;  // the parameter keys that vary, in order, seed last
  bool from_plan = false;           // read from plan.json (else inferred from the run folders)
};

// Whether `dir` holds a run (its config.json).
bool is_run_dir(const std::string& dir);

// Reads one run directory; DataError when it is damaged (see above).
RunData load_run_dir(const std::string& dir);
// Reads a sweep folder: its plan.json when there is one (runs not started yet are listed with
// state "new"), else every subfolder that holds a run, in natural name order.
SweepData load_sweep_dir(const std::string& dir);

}  // namespace qt
