#pragma once
// A parallel sum whose result does not depend on the thread count: fixed chunks, each summed in
// index order by fn(begin, end), then the chunk partials in chunk order.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/core/parallel.h"

namespace qt {

template <class Fn>
double ordered_sum(int64_t n, Fn&& fn) {
  constexpr int64_t kChunk = int64_t{1} << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks <= 1) return n > 0 ? fn(int64_t{0}, n) : 0.0;
  std::vector<double> part(chunks);
  parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) part[c] = fn(c * kChunk, std::min(n, (c + 1) * kChunk));
  });
  double total = 0;
  for (double p : part) total += p;
  return total;
}

}  // namespace qt
