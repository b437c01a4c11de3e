#pragma once
// Seconds for timing: the wall clock (steady), or with `process_cpu` the CPU time of the process.
// With one thread (TBB and OpenBLAS then run in the caller) the CPU clock counts the work only,
// not the time spent waiting for a core, so measurements stay comparable on a busy machine.
#include <time.h>

#include <chrono>

namespace qt {

inline double clock_seconds(bool process_cpu) {
  if (process_cpu) {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace qt
