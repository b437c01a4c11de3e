#pragma once
// Helpers of the sweep tests: run the qtrain binary ($QTRAIN_BIN) as a child process, read files.
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

inline std::string qtrain_bin() {
  const char* b = std::getenv("QTRAIN_BIN");
  REQUIRE_MESSAGE(b, "QTRAIN_BIN is not set (run through ctest)");
  return b;
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
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline json read_json(const fs::path& path) {
  return json::parse(slurp(path));
}

// Starts args (args[0] a path) in `cwd` with extra environment variables, output into `log`.
inline pid_t spawn(const std::vector<std::string>& args, const fs::path& log,
                   const fs::path& cwd = {}, const std::map<std::string, std::string>& env = {}) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    for (auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Result {
  int code;
  std::string output;  // stdout and stderr together
};

inline Result run(const std::vector<std::string>& args, const fs::path& cwd = {},
                  const std::map<std::string, std::string>& env = {}) {
  const fs::path log =
      fs::temp_directory_path() / ("qtrain-sweep-out-" + std::to_string(getpid()) + ".txt");
  Result r{wait_exit(spawn(args, log, cwd, env)), ""};
  r.output = slurp(log);
  fs::remove(log);
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
