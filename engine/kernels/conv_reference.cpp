#include "engine/kernels/conv_reference.h"

#include <cstdint>
#include <vector>

namespace qt {

namespace {

// Calls f(xi, wi, yi) for every product x[xi]·W[wi] that output yi sums, input taps inside the
// image only.
template <class F>
void for_each_tap(const ConvShape& g, F f) {
  const int64_t ho = g.ho(), wo = g.wo();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t o = 0; o < g.cout; ++o)
      for (int64_t i = 0; i < ho; ++i)
        for (int64_t j = 0; j < wo; ++j)
          for (int64_t c = 0; c < g.cin; ++c)
            for (int64_t a = 0; a < g.k; ++a)
              for (int64_t b = 0; b < g.k; ++b) {
                const int64_t h = i * g.stride - g.pad + a, w = j * g.stride - g.pad + b;
                if (h < 0 || h >= g.h || w < 0 || w >= g.w) continue;
                f(((n * g.cin + c) * g.h + h) * g.w + w, ((o * g.cin + c) * g.k + a) * g.k + b,
                  ((n * g.cout + o) * ho + i) * wo + j);
              }
}

}  // namespace

void reference_conv_forward(const ConvShape& g, const float* x, const float* w, const float* bias,
                            float* y) {
  const int64_t plane = g.ho() * g.wo(), ny = g.n * g.cout * plane;
  std::vector<double> acc(ny);
  for (int64_t e = 0; e < ny; ++e) acc[e] = bias ? bias[e / plane % g.cout] : 0.0;
  for_each_tap(g, [&](int64_t xi, int64_t wi, int64_t yi) {
    acc[yi] += static_cast<double>(x[xi]) * w[wi];
  });
  for (int64_t e = 0; e < ny; ++e) y[e] = static_cast<float>(acc[e]);
}

void reference_conv_backward(const ConvShape& g, const float* x, const float* w, const float* dy,
                             float* dw, float* db, float* dx) {
  const int64_t plane = g.ho() * g.wo(), nw = g.cout * g.cin * g.k * g.k,
                nx = g.n * g.cin * g.h * g.w;
  std::vector<double> sw(nw, 0.0), sx(nx, 0.0), sb(g.cout, 0.0);
  for_each_tap(g, [&](int64_t xi, int64_t wi, int64_t yi) {
    sw[wi] += static_cast<double>(dy[yi]) * x[xi];
    sx[xi] += static_cast<double>(dy[yi]) * w[wi];
  });
  for (int64_t e = 0; e < g.n * g.cout * plane; ++e) sb[e / plane % g.cout] += dy[e];
  for (int64_t e = 0; e < nw; ++e) dw[e] = static_cast<float>(sw[e]);
  if (db)
    for (int64_t o = 0; o < g.cout; ++o) db[o] = static_cast<float>(sb[o]);
  if (dx)
    for (int64_t e = 0; e < nx; ++e) dx[e] = static_cast<float>(sx[e]);
}

}  // namespace qt
