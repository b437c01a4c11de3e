#pragma once
// Writing files so that no earlier result is ever lost, even when the machine dies or the disk
// fills up: write to a temporary file in the same folder, flush it to disk, rename it over the
// target (atomic on POSIX file systems), then flush the folder so the rename itself is on disk.
//
// Temporary names are `.<name>.tmp.<host>.<pid>.<random>`: unique across the hosts and processes
// that share a folder (several shards on a network file system). A process killed mid-write
// leaves its temporary file behind; the next write of the same target removes it when it is
// certainly stale: written on this host by a process that no longer exists, or (any host) last
// modified over an hour ago. A live writer on another host is never touched: its file is at most
// seconds old, since a write takes seconds.
#include <string>

namespace qt {

// Replaces `path` with `content`; on any failure the previous file is unchanged and no temporary
// file is left. The error (std::runtime_error, exit code 1) names `path` and the reason.
void write_file_atomic(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);  // throws DataError naming the file
void make_dirs(const std::string& path);         // throws UsageError naming the folder

}  // namespace qt
