#pragma once
// Writing files so that no earlier result is ever lost: write to a temporary name in the same
// folder, flush to disk, then rename over the target (atomic on POSIX file systems).
#include <string>

namespace qt {

void write_file_atomic(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);  // throws DataError naming the file
void make_dirs(const std::string& path);         // throws UsageError naming the folder

}  // namespace qt
