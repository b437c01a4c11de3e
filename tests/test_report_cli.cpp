// `qtrain report` as a user runs it: on a real sweep folder written by `qtrain sweep` (with a
// run still to come), on a run directory, and on damaged or missing directories, where it must
// exit with a one-line message and write no page.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string qtrain() {
  const char* b = std::getenv("QTRAIN_BIN");
  REQUIRE_MESSAGE(b, "QTRAIN_BIN is not set (run through ctest)");
  return b;
}

fs::path scratch(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("qtrain-report-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Result {
  int code;
  std::string out, err;
};

// Runs qtrain with `args` in `cwd`, capturing stdout and stderr.
Result qtrain_run(const std::vector<std::string>& args, const fs::path& cwd) {
  const fs::path out = cwd / ".stdout", err = cwd / ".stderr";
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<std::string> all = {qtrain()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644),
        e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Result r{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(out),
           slurp(err)};
  fs::remove(out);
  fs::remove(err);
  return r;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size()))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("qtrain report on a folder written by qtrain sweep, one run not started yet") {
  const fs::path root = scratch("cli-sweep");
  std::ofstream(root / "tiny.json") << R"({
    "name": "tiny",
    "base": {"model": "mlp", "data": {"limit_train": 600, "limit_test": 200}, "epochs": 2, "batch_size": 64, "lr": 0.05},
    "zip": [{"algo.name": ["float", "ste"], "algo.bits": [0, 2]}],
    "seeds": [0, 1],
    "out": "sweep"
  })";
  // Three of the four runs (shards 0–2 of 4), so that one is still "not started".
  for (int shard = 0; shard < 3; ++shard) {
    const Result s = qtrain_run(
        {"sweep", "tiny.json", "--shard", std::to_string(shard) + "/4", "--threads", "2"}, root);
    REQUIRE_MESSAGE(s.code == 0, s.out << s.err);
  }
  const Result r = qtrain_run({"report", "sweep"}, root);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out == "wrote sweep/report.html and sweep/report.md (sweep, 4 runs in 2 points)\n");
  const std::string html = slurp(root / "sweep/report.html"), md = slurp(root / "sweep/report.md");
  CHECK(md.find("# qtrain report: sweep tiny") != std::string::npos);
  CHECK(md.find("3 finished, 0 in progress or stopped, 0 failed, 1 not started.") !=
        std::string::npos);
  CHECK(md.find("| algo | bits | runs finished |") != std::string::npos);
  CHECK(md.find("| ste | 2 | 1 of 2 | 2 / 2 |") != std::string::npos);
  CHECK(md.find("| algo.name=ste,algo.bits=2,seed=1 | not started |") != std::string::npos);
  CHECK(count(html, "<svg") >= 10);
  CHECK(html.find("Projection error") != std::string::npos);  // in the ste point's section
  CHECK(html.find("Final test accuracy per point") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);

  // A run directory of the sweep, written elsewhere with --out.
  const Result one =
      qtrain_run({"report", "sweep/algo.name=float,algo.bits=0,seed=0", "--out", "single"}, root);
  REQUIRE_MESSAGE(one.code == 0, one.err);
  CHECK(one.out.find("(run, 1 run in 1 point)") != std::string::npos);
  CHECK(fs::exists(root / "single/report.html"));
  CHECK(slurp(root / "single/report.md").find("| finished | 2 / 2 |") != std::string::npos);
  fs::remove_all(root);
}

TEST_CASE(
    "qtrain report refuses damaged or missing directories with one line, and writes no page") {
  const fs::path root = scratch("cli-errors");
  const fs::path run = root / "run";
  fs::create_directories(run);
  std::ofstream(run / "config.json") << R"({"model": "mlp", "epochs": 3})";
  std::ofstream(run / "metrics.jsonl") << R"({"epoch": 1, "test_acc": 0.5})"
                                       << "\n"
                                       << R"({"epoch": 2, "test_)"
                                       << "\n";
  Result r = qtrain_run({"report", "run"}, root);
  CHECK(r.code == 3);
  CHECK(r.err.rfind("qtrain: error: run/metrics.jsonl: line 2 is not valid JSON", 0) == 0);
  CHECK(count(r.err, "\n") == 1);
  CHECK_FALSE(fs::exists(run / "report.html"));

  fs::remove(run / "config.json");
  std::ofstream(run / "metrics.jsonl") << R"({"epoch": 1, "test_acc": 0.5})"
                                       << "\n";
  r = qtrain_run({"report", "run"}, root);
  CHECK(r.code == 3);
  CHECK(r.err.find("run/config.json: missing") != std::string::npos);
  CHECK_FALSE(fs::exists(run / "report.html"));

  r = qtrain_run({"report", "nowhere"}, root);
  CHECK(r.code == 2);
  CHECK(r.err.find("nowhere: no such directory") != std::string::npos);

  fs::create_directories(root / "empty");
  r = qtrain_run({"report", "empty"}, root);
  CHECK(r.code == 2);
  CHECK(r.err.find("neither a run directory") != std::string::npos);

  r = qtrain_run({"report", "empty", "--band", "wide"}, root);
  CHECK(r.code == 2);
  CHECK(r.err.find("--band 'wide'") != std::string::npos);
  fs::remove_all(root);
}
