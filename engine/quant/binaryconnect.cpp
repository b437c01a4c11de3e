#include "engine/quant/binaryconnect.h"

#include <algorithm>

#include "engine/core/parallel.h"

namespace qt {

void BinaryConnect::after_step() {
  for (QuantTarget& t : targets_) {
    float* w = t.param->value.data();
    // w ← clip(w, −1, 1): keeps the shadow weights where sign(w) can still flip
    parallel_for(t.param->value.size(), 1 << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) w[i] = std::clamp(w[i], -1.0f, 1.0f);
    });
  }
  Ste::after_step();
}

}  // namespace qt
