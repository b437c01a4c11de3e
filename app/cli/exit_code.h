#pragma once
#include <exception>

namespace qt {

// qtrain's exit codes, documented in `qtrain --help` and README.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;        // anything else (a bug, out of memory, interrupted)
constexpr int kExitUsage = 2;          // a wrong flag, config key or value
constexpr int kExitData = 3;           // a dataset or checkpoint file that cannot be used
constexpr int kExitBusy = 4;           // sweep: runs skipped, another sweep process runs them
constexpr int kExitInterrupted = 130;  // Ctrl-C: a checkpoint was saved, --resume continues

int exit_code_for(const std::exception& e);

}  // namespace qt
