#include "engine/kernels/packed_signselect.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/core/parallel.h"

namespace qt {

namespace {

// acc[j] += x[j·stride] (add) or −= (subtract) for j in [j0, j1): additions only.
template <bool Add>
inline void add_row(float* acc, const float* x, int64_t j0, int64_t j1, int64_t stride) {
  if (stride == 1) {
    for (int64_t j = j0; j < j1; ++j) acc[j] = Add ? acc[j] + x[j] : acc[j] - x[j];
    return;
  }
  for (int64_t j = j0; j < j1; ++j) acc[j] = Add ? acc[j] + x[j * stride] : acc[j] - x[j * stride];
}

}  // namespace

void signselect_conv(const ConvShape& g, const PackedWeights& w, const float* x, const float* scale,
                     const float* shift, float* y) {
  check_packed_shape(g, w, "signselect_conv");
  const int64_t ho = g.ho(), wo = g.wo(), pad = w.cout_pad;
  if (g.k == 1 && g.h == 1 && g.w == 1 && g.pad == 0) {
    // A linear layer: per sample, every input's sign bits select over the output channels.
    parallel_for(g.n, 1, [&](int64_t n0, int64_t n1) {
      std::vector<float> acc(static_cast<size_t>(pad));
      for (int64_t n = n0; n < n1; ++n) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t c = 0; c < g.cin; ++c) {
          const float v = x[n * g.cin + c];
          const uint64_t* pw = w.pos.data() + (c / 64) * pad;
          const int bit = static_cast<int>(c % 64);
          if (w.ternary) {
            const uint64_t* nw = w.neg.data() + (c / 64) * pad;
            for (int64_t o = 0; o < g.cout; ++o) {
              const float p = (pw[o] >> bit) & 1 ? v : 0.0f, q = (nw[o] >> bit) & 1 ? v : 0.0f;
              acc[static_cast<size_t>(o)] += p - q;
            }
          } else {
            for (int64_t o = 0; o < g.cout; ++o)
              acc[static_cast<size_t>(o)] += (pw[o] >> bit) & 1 ? v : -v;
          }
        }
        for (int64_t o = 0; o < g.cout; ++o)
          y[n * g.cout + o] = scale[o] * acc[static_cast<size_t>(o)] + shift[o];
      }
    });
    return;
  }
  // One task per output row (sample, channel, row): the row's sums run over c, a, b.
  parallel_for(g.n * g.cout * ho, 1, [&](int64_t r0, int64_t r1) {
    std::vector<float> acc(static_cast<size_t>(wo));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / (g.cout * ho), o = r / ho % g.cout, i = r % ho;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t c = 0; c < g.cin; ++c)
        for (int64_t a = 0; a < g.k; ++a) {
          const int64_t iy = i * g.stride - g.pad + a;
          if (iy < 0 || iy >= g.h) continue;
          const float* row = x + ((n * g.cin + c) * g.h + iy) * g.w;
          for (int64_t b = 0; b < g.k; ++b) {
            const int64_t at = ((a * g.k + b) * w.words + c / 64) * pad + o;
            const uint64_t bit = uint64_t{1} << (c % 64);
            const bool plus = (w.pos[static_cast<size_t>(at)] & bit) != 0;
            const bool minus = w.ternary ? (w.neg[static_cast<size_t>(at)] & bit) != 0 : !plus;
            if (!plus && !minus) continue;
            // the outputs j whose tap b lands inside the row: 0 ≤ j·s − p + b < W
            const int64_t j0 = std::max<int64_t>(0, (g.pad - b + g.stride - 1) / g.stride);
            const int64_t j1 = std::min<int64_t>(wo, (g.w + g.pad - b + g.stride - 1) / g.stride);
            if (j0 >= j1) continue;
            const float* xs = row - g.pad + b;
            if (plus)
              add_row<true>(acc.data(), xs, j0, j1, g.stride);
            else
              add_row<false>(acc.data(), xs, j0, j1, g.stride);
          }
        }
      float* out = y + ((n * g.cout + o) * ho + i) * wo;
      for (int64_t j = 0; j < wo; ++j) out[j] = scale[o] * acc[static_cast<size_t>(j)] + shift[o];
    }
  });
}

}  // namespace qt
