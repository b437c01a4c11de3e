#pragma once
// The weight-gradient reduction shared by the convolutions that split a batch into fixed pieces
// (im2col's chunks, the direct kernels' groups of samples), each with its partial dW then db.
#include <cstdint>

#include "engine/core/parallel.h"

namespace qt {

// dW, db = Σ_piece partials (each wsize + Cout floats), in piece order, split over the elements:
// the same sums for every thread count. db may be null (no bias).
inline void sum_partials(const float* parts, int64_t pieces, int64_t wsize, int64_t cout, float* dw,
                         float* db) {
  const int64_t part = wsize + cout;
  parallel_for(part, 4096, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      float s = parts[e];
      for (int64_t p = 1; p < pieces; ++p) s += parts[p * part + e];
      if (e < wsize)
        dw[e] = s;
      else if (db)
        db[e - wsize] = s;
    }
  });
}

}  // namespace qt
