#pragma once
// One level of parallelism per operation: TBB splits the work (samples, channels, rows), and
// OpenBLAS always runs single-threaded inside a task. Two levels would oversubscribe 2 cores,
// and OpenBLAS's own threading would make results depend on the thread count.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cstdint>
#include <functional>

namespace qt {

// Sets the number of worker threads for the whole process (0 = all cores) and pins OpenBLAS
// to one thread. Call once, from main or a test, before any work.
void set_threads(int n);
int threads();

// Calls fn(begin, end) on disjoint sub-ranges of [0, n) covering it, in parallel.
// Each index must be computed independently of how the range is split: that is what makes
// results identical for every thread count.
template <class Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  if (n <= grain) {
    fn(int64_t{0}, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end()); });
}

}  // namespace qt
