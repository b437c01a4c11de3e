// The folders are layers: each may include only the folders below it, as its CMake library links
// only theirs. An `#include "..."` of a project header that points up (or sideways, to a folder it
// does not build on) fails here with the file, the line and the rule.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

// Each folder and the folders it builds on directly, listed bottom-up; a folder may include its
// own headers and those of every folder it builds on, directly or through another.
struct Folder {
  std::string path;
  std::vector<std::string> uses;
};
const std::vector<Folder> kFolders = {
    {"engine/core", {}},
    {"engine/kernels", {"engine/core"}},
    {"engine/layers", {"engine/kernels", "engine/core"}},
    {"engine/models", {"engine/layers"}},
    {"engine/optim", {"engine/core"}},
    {"engine/quant", {"engine/models"}},
    {"datasets", {"engine/core"}},
    {"app/text", {}},
    {"app/version.h", {}},  // generated from app/version.h.in into the build tree
    {"app/train", {"engine/quant", "engine/optim", "datasets"}},
    {"app/config", {"app/train"}},
    {"app/run", {"app/config", "app/version.h"}},
    {"app/package", {"app/run"}},
    {"app/sweep", {"app/run", "app/text"}},
    {"app/report", {"app/sweep", "app/text"}},
    {"app/cli", {"app/package", "app/report", "app/text"}},
    {"app/main.cpp", {"app/cli"}},
};
// The top-level folders whose every file must belong to a folder of the table.
const std::vector<std::string> kRoots = {"engine", "datasets", "app"};

// The folder of the table holding `path` (relative to the source root): the longest that is a
// prefix of it; nullptr when none is.
const Folder* folder_of(const std::string& path) {
  const Folder* best = nullptr;
  for (const Folder& f : kFolders) {
    const bool inside = path == f.path || path.rfind(f.path + "/", 0) == 0;
    if (inside && (!best || f.path.size() > best->path.size())) best = &f;
  }
  return best;
}

// Every folder `f` may include from: itself and all it builds on, through any chain.
std::set<std::string> reachable(const Folder& f) {
  std::set<std::string> seen = {f.path};
  std::vector<std::string> todo = f.uses;
  while (!todo.empty()) {
    const std::string p = todo.back();
    todo.pop_back();
    if (!seen.insert(p).second) continue;
    for (const Folder& g : kFolders)
      if (g.path == p) todo.insert(todo.end(), g.uses.begin(), g.uses.end());
  }
  return seen;
}

bool is_project_path(const std::string& path) {
  return std::any_of(kRoots.begin(), kRoots.end(),
                     [&](const std::string& r) { return path.rfind(r + "/", 0) == 0; });
}

// What is wrong with line `line` of `file` (both relative to the source root), or nothing.
std::optional<std::string> include_problem(const std::string& file, int line,
                                           const std::string& text) {
  static const std::regex include(R"(^\s*#\s*include\s*"([^"]+)\")");
  std::smatch m;
  if (!std::regex_search(text, m, include)) return std::nullopt;
  const std::string target = m[1];
  const std::string at = file + ":" + std::to_string(line) + ": #include \"" + target + "\": ";
  const Folder* from = folder_of(file);
  if (!from) return at + file + " lies in no folder of the table in tests/test_include_order.cpp";
  if (!is_project_path(target)) return std::nullopt;  // a system or test header
  const Folder* to = folder_of(target);
  if (!to) return at + "the header lies in no folder of the table in tests/test_include_order.cpp";
  const std::set<std::string> allowed = reachable(*from);
  if (allowed.count(to->path)) return std::nullopt;
  std::string list;
  for (const Folder& f : kFolders)
    if (allowed.count(f.path)) list += (list.empty() ? "" : ", ") + f.path;
  return at + from->path + " may include only " + list + "; " + to->path + " is not below it";
}

std::vector<std::string> problems_in_tree(const fs::path& root) {
  std::vector<std::string> problems;
  for (const std::string& r : kRoots)
    for (auto& e : fs::recursive_directory_iterator(root / r)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
      const std::string rel = fs::relative(e.path(), root).generic_string();
      std::ifstream in(e.path());
      std::string text;
      for (int n = 1; std::getline(in, text); ++n)
        if (auto p = include_problem(rel, n, text)) problems.push_back(*p);
    }
  std::sort(problems.begin(), problems.end());
  return problems;
}

}  // namespace

TEST_CASE("every #include of a project header points down the folder order") {
  const char* src = std::getenv("QTRAIN_SOURCE_DIR");
  REQUIRE_MESSAGE(src != nullptr, "run through ctest, which sets QTRAIN_SOURCE_DIR");
  const auto problems = problems_in_tree(src);
  for (auto& p : problems) FAIL_CHECK(p);
  CHECK(problems.empty());
}

TEST_CASE("the include check refuses upward and sideways includes, allows downward ones") {
  // Down, within a folder, and through a chain (train → quant → models → layers).
  CHECK_FALSE(include_problem("app/train/trainer.h", 1, "#include \"engine/layers/layer.h\""));
  CHECK_FALSE(include_problem("app/cli/cmd_train.cpp", 1, "#include \"app/cli/config_flags.h\""));
  CHECK_FALSE(include_problem("engine/core/tensor.cpp", 1, "#include <vector>"));
  CHECK_FALSE(include_problem("app/main.cpp", 1, "#include \"app/config/config.h\""));
  // Up.
  auto up = include_problem("engine/core/tensor.h", 7, "#include \"app/run/progress.h\"");
  REQUIRE(up);
  CHECK(up->find("engine/core/tensor.h:7") != std::string::npos);
  CHECK(up->find("engine/core may include only engine/core; app/run is not below it") !=
        std::string::npos);
  CHECK(include_problem("app/train/trainer.cpp", 3, "  #include \"app/config/config.h\""));
  // Sideways: datasets/ builds on engine/core alone, sweep and package do not use each other.
  CHECK(include_problem("datasets/split.cpp", 1, "#include \"engine/layers/layer.h\""));
  CHECK(include_problem("app/sweep/sweep_runner.cpp", 1,
                        "#include \"app/package/package_tensor.h\""));
  CHECK(include_problem("engine/layers/conv2d.cpp", 1, "#include \"engine/optim/sgd.h\""));
  // A file or a header outside the table.
  CHECK(include_problem("engine/mpi/allreduce.cpp", 1, "#include \"engine/core/tensor.h\""));
  CHECK(include_problem("app/cli/cmd_train.cpp", 1, "#include \"app/gui/window.h\""));
}

TEST_CASE("the folder table is ordered bottom-up and names only folders of the table") {
  for (size_t i = 0; i < kFolders.size(); ++i)
    for (const std::string& u : kFolders[i].uses) {
      auto it = std::find_if(kFolders.begin(), kFolders.begin() + static_cast<long>(i),
                             [&](const Folder& f) { return f.path == u; });
      CHECK_MESSAGE(it != kFolders.begin() + static_cast<long>(i),
                    kFolders[i].path << " builds on " << u << ", which is not listed before it");
    }
}
