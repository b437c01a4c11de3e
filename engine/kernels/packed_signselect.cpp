#include "engine/kernels/packed_signselect.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "engine/core/parallel.h"

namespace qt {

namespace {

// Ternary: acc[o] += x where bit `bit` of pos[o] is set, −x where it is set in neg[o].
[[gnu::noinline]] void select_add(float* acc, const uint64_t* pos, const uint64_t* neg, int64_t n,
                                  int bit, float x) {
  for (int64_t o = 0; o < n; ++o) {
    const float p = (pos[o] >> bit) & 1 ? x : 0.0f;
    const float q = (neg[o] >> bit) & 1 ? x : 0.0f;
    acc[o] += p - q;
  }
}

// Binary: acc[o] += x where bit `bit` of pos[o] is set, −x where it is not.
[[gnu::noinline]] void select_add(float* acc, const uint64_t* pos, int64_t n, int bit, float x) {
  for (int64_t o = 0; o < n; ++o) acc[o] += (pos[o] >> bit) & 1 ? x : -x;
}

}  // namespace

void signselect_conv(const ConvShape& g, const PackedWeights& w, const float* x, const float* scale,
                     const float* shift, float* y) {
  if (g.cin != w.cin || g.cout != w.cout || g.k != w.k)
    throw std::invalid_argument(
        "signselect_conv: the shape's channels or kernel are not the "
        "packed weights' (" +
        std::to_string(g.cin) + " → " + std::to_string(g.cout) + ", k " + std::to_string(g.k) +
        " against " + std::to_string(w.cin) + " → " + std::to_string(w.cout) + ", k " +
        std::to_string(w.k) + ")");
  const int64_t ho = g.ho(), wo = g.wo(), pad = w.cout_pad;
  parallel_for(g.n * ho, 1, [&](int64_t r0, int64_t r1) {
    std::vector<float> acc(static_cast<size_t>(pad));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / ho, i = r % ho;
      for (int64_t j = 0; j < wo; ++j) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t c = 0; c < g.cin; ++c)
          for (int64_t a = 0; a < g.k; ++a) {
            const int64_t iy = i * g.stride - g.pad + a;
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t b = 0; b < g.k; ++b) {
              const int64_t ix = j * g.stride - g.pad + b;
              if (ix < 0 || ix >= g.w) continue;
              const float v = x[((n * g.cin + c) * g.h + iy) * g.w + ix];
              const int64_t at = ((a * g.k + b) * w.words + c / 64) * pad;
              const int bit = static_cast<int>(c % 64);
              if (w.ternary)
                select_add(acc.data(), w.pos.data() + at, w.neg.data() + at, g.cout, bit, v);
              else
                select_add(acc.data(), w.pos.data() + at, g.cout, bit, v);
            }
          }
        for (int64_t o = 0; o < g.cout; ++o)
          y[((n * g.cout + o) * ho + i) * wo + j] =
              scale[o] * acc[static_cast<size_t>(o)] + shift[o];
      }
    }
  });
}

}  // namespace qt
