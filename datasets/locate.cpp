#include "datasets/locate.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "engine/core/error.h"

namespace qt {

namespace fs = std::filesystem;

namespace {

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

std::vector<std::string> search_roots() {
  std::vector<std::string> roots;
  if (const char* env = std::getenv(kDataDirEnv)) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      const size_t end = std::min(list.find(':', start), list.size());
      if (end > start) roots.push_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  if (const char* home = std::getenv("HOME"); home && *home)
    roots.push_back((fs::path(home) / ".local/share/datasets").string());
  roots.push_back("/usr/local/share/datasets");
  roots.push_back("/usr/share/datasets");
  return roots;
}

}  // namespace

std::vector<std::string> candidate_dirs(const CatalogEntry& e, const std::string& data_dir) {
  std::vector<std::string> dirs;
  if (!data_dir.empty()) {
    dirs.push_back(data_dir);
    for (const std::string& s : e.subdirs) dirs.push_back((fs::path(data_dir) / s).string());
    return dirs;
  }
  for (const std::string& root : search_roots())
    for (const std::string& s : e.subdirs) dirs.push_back((fs::path(root) / s).string());
  return dirs;
}

std::string file_in(const std::string& dir, const std::string& name) {
  const fs::path p = fs::path(dir) / name;
  if (path_exists(p)) return p.string();
  const bool gz = name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0;
  const fs::path other = fs::path(dir) / (gz ? name.substr(0, name.size() - 3) : name + ".gz");
  if (path_exists(other)) return other.string();
  return p.string();
}

std::string locate_dataset(const CatalogEntry& e, const std::string& data_dir) {
  if (e.train_files.empty()) return "";
  const std::string& first = e.train_files.front().name;
  for (const std::string& d : candidate_dirs(e, data_dir))
    if (path_exists(file_in(d, first))) return d;
  std::string roots, subdirs;
  for (const std::string& r :
       data_dir.empty() ? search_roots() : std::vector<std::string>{data_dir})
    roots += (roots.empty() ? "" : ", ") + r;
  for (const std::string& s : e.subdirs) subdirs += (subdirs.empty() ? "" : ", ") + s;
  throw DataError(e.name + ": " + first + " not found: expected it (compressed or not) in " +
                  (data_dir.empty() ? "a folder " + subdirs + " under one of " + roots
                                    : data_dir + " or its folder " + subdirs) +
                  "; found none. To get it: " + e.how_to_get +
                  "; then pass --data-dir DIR or set " + kDataDirEnv + "=DIR");
}

}  // namespace qt
