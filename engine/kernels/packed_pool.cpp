#include "engine/kernels/packed_pool.h"

#include <stdexcept>
#include <string>

#include "engine/core/parallel.h"

namespace qt {

void or_pool(const uint64_t* x, int64_t n, int64_t h, int64_t w, int64_t words, int64_t k,
             int64_t stride, int64_t pad, std::vector<uint64_t>& y) {
  const int64_t ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
  if (k < 1 || stride < 1 || ho < 1 || wo < 1)
    throw std::invalid_argument("or_pool: no output for k " + std::to_string(k) + ", stride " +
                                std::to_string(stride) + ", padding " + std::to_string(pad) +
                                " on " + std::to_string(h) + "×" + std::to_string(w));
  y.assign(static_cast<size_t>(n * ho * wo * words), 0);
  parallel_for(n * ho, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t s = r / ho, i = r % ho;
      for (int64_t j = 0; j < wo; ++j) {
        uint64_t* out = y.data() + ((s * ho + i) * wo + j) * words;
        for (int64_t a = 0; a < k; ++a) {
          const int64_t iy = i * stride - pad + a;
          if (iy < 0 || iy >= h) continue;
          for (int64_t b = 0; b < k; ++b) {
            const int64_t ix = j * stride - pad + b;
            if (ix < 0 || ix >= w) continue;
            const uint64_t* in = x + ((s * h + iy) * w + ix) * words;
            for (int64_t c = 0; c < words; ++c) out[c] |= in[c];
          }
        }
      }
    }
  });
}

}  // namespace qt
