#pragma once
// Where one run of a sweep stands, read from its directory alone, so that a re-run, another
// shard on another machine and `qtrain sweep --summary` all see the same thing:
//   finished    summary.json says "finished": true (never touched again)
//   failed      the last attempt exited with an error (sweep_exit.json); a re-run retries it
//   unfinished  started (config.json, maybe a checkpoint), stopped or killed; a re-run resumes it
//   new         nothing there yet
#include <nlohmann/json.hpp>
#include <string>

namespace qt {

enum class RunState { New, Unfinished, Failed, Finished };
// The state as sweep.csv, sweep.json and the terminal write it: "new", "unfinished", "failed",
// "finished".
std::string run_state_name(RunState s);

struct RunStatus {
  RunState state = RunState::New;
  bool has_checkpoint = false;  // checkpoints/last.ckpt: resume rather than start
  int epochs_done = 0;
  std::string error;       // failed: the error line of the last attempt
  nlohmann::json summary;  // summary.json (null when absent)
};

RunStatus read_run_status(const std::string& dir);

// Records how an attempt ended (DIR/sweep_exit.json); `log_path` holds the child's output,
// whose last "qtrain:" line is the error. Exit code 130 is an interruption, not a failure.
void write_exit_record(const std::string& dir, int exit_code, double seconds,
                       const std::string& log_path);
// Removes the record before a new attempt.
void clear_exit_record(const std::string& dir);

}  // namespace qt
