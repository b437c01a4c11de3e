#pragma once
// Errors carry a message up to main, which alone picks the exit code:
// UsageError → 2 (a flag, a config key or value), DataError → 3 (a dataset or checkpoint file),
// anything else → 1. Messages say which file or key, what was found, what was expected, and
// how to fix it, in one line.
#include <stdexcept>
#include <string>

namespace qt {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace qt

namespace qt {

// A run stopped by Ctrl-C after saving its checkpoint: exit code 130, like the shell's.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A sweep that left runs to another sweep process running them (the same folder): nothing
// failed, but this process did not see them finish. Exit code 4.
struct RunsBusy : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace qt
