#pragma once
// Helpers of the tests that run the qtrain binary ($QTRAIN_BIN) as a child process: scratch
// folders, reading and writing files, starting and waiting for processes.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sweep_test {

namespace fs = std::filesystem;
using json = nlohmann::json;

// An environment variable ctest sets (tests/CMakeLists.txt): QTRAIN_BIN, QTRAIN_SOURCE_DIR.
inline std::string env(const char* name) {
  const char* v = std::getenv(name);
  REQUIRE_MESSAGE(v, name << " is not set (run through ctest)");
  return v;
}

inline std::string qtrain_bin() {
  return env("QTRAIN_BIN");
}

// A fresh folder for one test case.
inline fs::path scratch(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("qtrain-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// Removes a test's folder when the test case ends, passed or failed.
struct Cleanup {
  fs::path path;
  ~Cleanup() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

inline void write(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

inline std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline json read_json(const fs::path& path) {
  return json::parse(slurp(path));
}

// How often `what` occurs in `text` (occurrences that do not overlap).
inline size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size()))
    ++n;
  return n;
}

// Starts args (args[0] a path) in `cwd` with extra environment variables, its stdout into `out`
// and its stderr into `err` (the same file when they are the same path).
inline pid_t spawn_to(const std::vector<std::string>& args, const fs::path& out,
                      const fs::path& err, const fs::path& cwd = {},
                      const std::map<std::string, std::string>& env = {}) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = err == out ? o : open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    for (auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Starts args (args[0] a path) in `cwd` with extra environment variables, output (stdout and
// stderr) into `log`, discarded by default.
inline pid_t spawn(const std::vector<std::string>& args, const fs::path& log = "/dev/null",
                   const fs::path& cwd = {}, const std::map<std::string, std::string>& env = {}) {
  return spawn_to(args, log, log, cwd, env);
}

// A waitpid status as a shell shows it: the exit code, or 128 + the signal that killed it.
inline int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Waits for `pid` to end: its exit code, or 128 + the signal that killed it.
inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return exit_code(status);
}

struct Result {
  int code;
  std::string output;  // stdout and stderr together
};

// Runs args (args[0] a path) in `cwd` to its end.
inline Result run(const std::vector<std::string>& args, const fs::path& cwd = {},
                  const std::map<std::string, std::string>& env = {}) {
  const fs::path log =
      fs::temp_directory_path() / ("qtrain-sweep-out-" + std::to_string(getpid()) + ".txt");
  Result r{wait_exit(spawn(args, log, cwd, env)), ""};
  r.output = slurp(log);
  fs::remove(log);
  return r;
}

struct Streams {
  int code;
  std::string out, err;  // stdout, stderr
};

// Runs args (args[0] a path) in `cwd` to its end, keeping stdout and stderr apart.
inline Streams run_streams(const std::vector<std::string>& args, const fs::path& cwd = {},
                           const std::map<std::string, std::string>& env = {}) {
  const std::string stem = "qtrain-test-" + std::to_string(getpid());
  const fs::path out = fs::temp_directory_path() / (stem + ".stdout"),
                 err = fs::temp_directory_path() / (stem + ".stderr");
  Streams r{wait_exit(spawn_to(args, out, err, cwd, env)), "", ""};
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

// Every file of a directory tree → (size, content, mtime): to check that nothing was rewritten.
inline std::map<std::string, std::pair<std::string, fs::file_time_type>> snapshot(
    const fs::path& dir) {
  std::map<std::string, std::pair<std::string, fs::file_time_type>> files;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      files[fs::relative(e.path(), dir).string()] = {slurp(e.path()),
                                                     fs::last_write_time(e.path())};
  return files;
}

// metrics.jsonl without the timing fields (the deterministic part of a run).
inline std::vector<json> metrics(const fs::path& run_dir) {
  std::vector<json> recs;
  std::ifstream in(run_dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    json r = json::parse(line);
    r.erase("timing");
    recs.push_back(r);
  }
  return recs;
}

}  // namespace sweep_test
