#include "engine/quant/projection_kernels.h"

#include <stdexcept>

namespace qt::detail {

void throw_non_finite() {
  throw std::runtime_error(
      "projection: the weights contain NaN or infinity (the training has diverged; try a lower "
      "learning rate)");
}

uint32_t max_magnitude_bits(std::span<const float> w) {
  struct Max {
    uint32_t v = 0;
    Max& operator+=(const Max& o) {
      v = std::max(v, o.v);
      return *this;
    }
  };
  const Max m = chunked_reduce<Max>(static_cast<int64_t>(w.size()), [&](int64_t b, int64_t e) {
    uint32_t v = 0;
    for (int64_t i = b; i < e; ++i) v = std::max(v, magnitude_bits(w[i]));
    return Max{v};
  });
  if (m.v >= 0x7f800000u) throw_non_finite();  // the bits of +inf; NaNs lie above
  return m.v;
}

}  // namespace qt::detail
