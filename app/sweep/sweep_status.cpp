#include "app/sweep/sweep_status.h"

#include <filesystem>
#include <fstream>

#include "engine/core/bounded_json.h"
#include "engine/core/files.h"

namespace qt {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A JSON file, or null when it is absent or unreadable (a half-written file cannot occur:
// every file is replaced by rename; an unreadable one counts as not there).
json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  try {
    return parse_bounded_json(in);
  } catch (const json::exception&) {
    return nullptr;
  }
}

std::string last_error_line(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line, last;
  while (std::getline(in, line))
    if (line.rfind("qtrain:", 0) == 0) last = line;
  return last;
}

}  // namespace

std::string run_state_name(RunState s) {
  switch (s) {
    case RunState::New:
      return "new";
    case RunState::Unfinished:
      return "unfinished";
    case RunState::Failed:
      return "failed";
    case RunState::Finished:
      return "finished";
  }
  return "?";
}

RunStatus read_run_status(const std::string& dir) {
  RunStatus s;
  if (!fs::exists(dir)) return s;
  s.has_checkpoint = fs::exists(dir + "/checkpoints/last.ckpt");
  s.summary = read_json(dir + "/summary.json");
  if (s.summary.is_object()) s.epochs_done = s.summary.value("epochs_done", 0);
  if (s.summary.is_object() && s.summary.value("finished", false)) {
    s.state = RunState::Finished;
    return s;
  }
  const json exit = read_json(dir + "/sweep_exit.json");
  if (exit.is_object() && exit.value("exit_code", 0) != 0 && exit.value("exit_code", 0) != 130) {
    s.state = RunState::Failed;
    s.error = exit.value("error", std::string());
    return s;
  }
  if (s.has_checkpoint || fs::exists(dir + "/config.json")) s.state = RunState::Unfinished;
  return s;
}

void write_exit_record(const std::string& dir, int exit_code, double seconds,
                       const std::string& log_path) {
  std::string error;
  if (exit_code != 0 && exit_code != 130) {
    error = last_error_line(log_path);
    if (error.empty())
      error = exit_code > 128 ? "killed by signal " + std::to_string(exit_code - 128)
                              : "exited with code " + std::to_string(exit_code);
  }
  json r = {{"exit_code", exit_code}, {"seconds", seconds}, {"error", error}};
  write_file_atomic(dir + "/sweep_exit.json", r.dump(2) + "\n");
}

void clear_exit_record(const std::string& dir) {
  std::error_code ec;
  fs::remove(dir + "/sweep_exit.json", ec);
}

}  // namespace qt
