#include "engine/core/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "engine/core/error.h"

namespace qt {

namespace {

// A stale temporary file of another host is one not modified for this long.
constexpr time_t kStaleSeconds = 3600;

// Closes the descriptor on every path out; close() reports the error of a deferred write (NFS).
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now: 0, or the errno of close.
  int close() {
    if (fd_ < 0) return 0;
    const int r = ::close(fd_);
    fd_ = -1;
    return r == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string h = buf;
  for (char& c : h)
    if (c == '/') c = '_';
  return h;
}

std::string random_hex() {
  static thread_local std::mt19937_64 gen{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

// Whether `rest` ("<host>.<pid>.<random>" of a temporary file) is certainly abandoned.
bool stale(const std::string& rest, const std::string& file, const std::string& me) {
  const size_t r = rest.rfind('.');
  const size_t p = r == std::string::npos || r == 0 ? std::string::npos : rest.rfind('.', r - 1);
  struct stat st {};
  if (::lstat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (std::time(nullptr) - st.st_mtime > kStaleSeconds) return true;
  if (p == std::string::npos || rest.substr(0, p) != me) return false;
  const std::string pid_text = rest.substr(p + 1, r - p - 1);
  if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const long pid = std::strtol(pid_text.c_str(), nullptr, 10);
  if (pid <= 0 || pid == ::getpid()) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Removes the abandoned temporary files of `name` in `dir` (see files.h).
void remove_stale_temps(const std::string& dir, const std::string& name, const std::string& me) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;  // the write itself reports an unusable folder
  const std::string prefix = "." + name + ".tmp.";
  std::vector<std::string> doomed;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() > prefix.size() && n.compare(0, prefix.size(), prefix) == 0 &&
        stale(n.substr(prefix.size()), dir + "/" + n, me))
      doomed.push_back(n);
  }
  ::closedir(d);
  for (const std::string& n : doomed) ::unlink((dir + "/" + n).c_str());
}

[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
  throw std::runtime_error("cannot write " + path + ": " + what + std::strerror(err) +
                           " (the previous file, if any, is unchanged)");
}

// After the rename: the new file is in place but may not survive a crash of the machine.
[[noreturn]] void fail_sync(const std::string& path, const std::string& what, int err) {
  throw std::runtime_error("wrote " + path + " but could not " + what + std::strerror(err) +
                           " (a crash of the machine now may lose it)");
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::filesystem::path target(path);
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  const std::string name = target.filename().string();
  const std::string me = host_name();
  remove_stale_temps(dir, name, me);

  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    tmp = dir + "/." + name + ".tmp." + me + "." + std::to_string(::getpid()) + "." + random_hex();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && (errno != EEXIST || attempt == 8)) fail(path, "", errno);
  }
  Fd file(fd);
  // From here every failure removes the temporary file.
  auto give_up = [&](const std::string& what, int err) {
    file.close();
    ::unlink(tmp.c_str());
    fail(path, what, err);
  };
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(file.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      give_up("", errno);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(file.get()) != 0) give_up("flushing it to disk: ", errno);
  if (const int err = file.close()) give_up("closing it: ", err);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) give_up("renaming it into place: ", errno);
  // The rename is on disk once the folder is: without this a crash may bring the old file back.
  Fd folder(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (folder.get() < 0) fail_sync(path, "open its folder to flush it: ", errno);
  if (::fsync(folder.get()) != 0 && errno != EINVAL)  // EINVAL: the file system cannot
    fail_sync(path, "flush its folder to disk: ", errno);
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw DataError(path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec || !std::filesystem::is_directory(path))
    throw UsageError("cannot create the folder '" + path +
                     "': " + (ec ? ec.message() : "a file is in the way"));
}

}  // namespace qt
