#include "engine/kernels/packed_expanded.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/kernels/conv_direct.h"
#include "engine/kernels/conv_im2col.h"

namespace qt {

void expand_signs(const PackedWeights& w, float* s) {
  const int64_t taps = w.k * w.k;
  for (int64_t o = 0; o < w.cout; ++o)
    for (int64_t c = 0; c < w.cin; ++c)
      for (int64_t t = 0; t < taps; ++t) {
        const size_t at = static_cast<size_t>((t * w.words + c / 64) * w.cout_pad + o);
        const uint64_t bit = uint64_t{1} << (c % 64);
        const bool plus = (w.pos[at] & bit) != 0;
        const bool minus = w.ternary ? (w.neg[at] & bit) != 0 : !plus;
        s[(o * w.cin + c) * taps + t] = plus ? 1.0f : minus ? -1.0f : 0.0f;
      }
}

void expanded_conv(Workspace& ws, const ConvShape& g, const PackedWeights& w, const float* x,
                   const float* scale, const float* shift, float* y) {
  check_packed_shape(g, w, "expanded_conv");
  std::vector<float> s(static_cast<size_t>(g.cout * g.cin * g.k * g.k));
  expand_signs(w, s.data());
  if (direct_conv_available() && g.stride == 1 && 2 * g.pad <= g.k - 1)
    direct_conv_forward(ws, g, x, s.data(), nullptr, y);
  else if (g.stride == 2 && direct_conv_s2_applies(g.k, g.pad, g.h, g.w))
    direct_conv_s2_forward(ws, g, x, s.data(), nullptr, y);
  else
    im2col_conv_forward(ws, g, x, s.data(), nullptr, y);
  const int64_t plane = g.ho() * g.wo();
  parallel_for(g.n * g.cout, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r % g.cout;
      float* p = y + r * plane;
      for (int64_t i = 0; i < plane; ++i) p[i] = scale[o] * p[i] + shift[o];
    }
  });
}

}  // namespace qt
