// write_file_atomic: the previous file survives every failure, no temporary file is left, and the
// temporary files of killed writers are removed by the next write, those of live ones never.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "engine/core/files.h"

using namespace qt;
namespace fs = std::filesystem;

namespace {

struct Dir {
  fs::path path = fs::temp_directory_path() / ("qtrain-files-" + std::to_string(getpid()));
  Dir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::set<std::string> names(const fs::path& dir) {
  std::set<std::string> n;
  for (auto& e : fs::directory_iterator(dir)) n.insert(e.path().filename().string());
  return n;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string host() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// A process id that existed and has ended.
pid_t dead_pid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

int open_fds() {
  int n = 0;
  for (auto& e : fs::directory_iterator("/proc/self/fd")) (void)e, ++n;
  return n;
}

}  // namespace

TEST_CASE("write_file_atomic replaces the file and leaves nothing else") {
  Dir d;
  const fs::path f = d.path / "a.json";
  write_file_atomic(f.string(), "one");
  write_file_atomic(f.string(), "two");
  CHECK(slurp(f) == "two");
  CHECK(names(d.path) == std::set<std::string>{"a.json"});
  // In the working directory too (a bare file name).
  const fs::path cwd = fs::current_path();
  fs::current_path(d.path);
  write_file_atomic("b.txt", "three");
  fs::current_path(cwd);
  CHECK(slurp(d.path / "b.txt") == "three");
  CHECK(names(d.path) == std::set<std::string>{"a.json", "b.txt"});
}

TEST_CASE("the next write removes killed writers' temporary files, never a live writer's") {
  Dir d;
  const std::string h = host(), dead = std::to_string(dead_pid()),
                    alive = std::to_string(getppid());
  const auto hours_ago = fs::file_time_type::clock::now() - std::chrono::hours(2);
  struct Temp {
    std::string name;
    bool old, removed;
  };
  const std::vector<Temp> temps = {
      {".t.tmp." + h + "." + dead + ".0a", false, true},    // this host, its writer is gone
      {".t.tmp." + h + "." + alive + ".0b", false, false},  // this host, its writer is alive
      {".t.tmp.other-host." + dead + ".0c", false, false},  // another host: maybe alive
      {".t.tmp.node7.example.org.77.0d", true, true},       // another host, two hours old
      {".t.tmp." + h + "." + alive + ".0e", true, true},    // two hours old (a reused pid)
      {".u.tmp." + h + "." + dead + ".0f", false, false},   // another file's
      {"t.tmp." + h + "." + dead + ".10", false, false},    // not a temporary name
      {".t.tmp." + h + ".x" + dead + ".11", false, false},  // not a pid
  };
  for (const Temp& t : temps) {
    std::ofstream(d.path / t.name) << "partial";
    if (t.old) fs::last_write_time(d.path / t.name, hours_ago);
  }
  write_file_atomic((d.path / "t").string(), "new");
  CHECK(slurp(d.path / "t") == "new");
  const std::set<std::string> left = names(d.path);
  for (const Temp& t : temps) {
    INFO(t.name);
    CHECK(left.count(t.name) == (t.removed ? 0u : 1u));
  }
  CHECK(left.size() ==
        1 + std::count_if(temps.begin(), temps.end(), [](const Temp& t) { return !t.removed; }));
}

TEST_CASE("a write past the file size limit fails naming the file and keeps the previous one") {
  Dir d;
  const fs::path f = d.path / "last.ckpt", msg = d.path / "message";
  write_file_atomic(f.string(), "previous");
  // In a child: the limit applies to the whole process. A full disk fails the same way (ENOSPC).
  const pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);  // the write then fails with EFBIG
    rlimit lim{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &lim);
    const int fds = open_fds();
    try {
      write_file_atomic(f.string(), std::string(100000, 'x'));
    } catch (const std::runtime_error& e) {
      std::ofstream(msg) << e.what();
      _exit(open_fds() == fds ? 0 : 2);  // the temporary file was closed
    }
    _exit(1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const std::string m = slurp(msg);
  CHECK(m.find("cannot write " + f.string() + ": File too large") == 0);
  CHECK(slurp(f) == "previous");
  CHECK(names(d.path) == std::set<std::string>{"last.ckpt", "message"});
}

TEST_CASE("a missing folder is an error naming the file") {
  Dir d;
  const fs::path f = d.path / "no/such/folder/x.json";
  try {
    write_file_atomic(f.string(), "x");
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("cannot write " + f.string() + ": No such file") == 0);
  }
}
