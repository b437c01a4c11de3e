#pragma once
// Binary or ternary weights over float inputs by the float convolution: the bit planes are
// expanded to S ∈ {−1, 0, +1} (Cout, Cin, k, k), the float kernels compute the sum, and the row's
// scale is applied once:
//   y[n, o, i, j] = scale[o]·Σ_{c,a,b} S[o, c, a, b]·x[n, c, i·s − p + a, j·s − p + b] + shift[o]
// The same function as signselect_conv (packed_signselect.h) to float rounding, but a GEMM-shaped
// loop: the sign-selected additions run one short row per (channel, tap), which is ~80× slower
// than the float path on a 3-channel image. Only the packed planes stay loaded; S lives for one
// call. The float kernel is the one Conv2d would pick for the shape (the direct kernels on the
// AVX-512 path, else im2col + GEMM); each is deterministic for any thread count.
#include "engine/kernels/conv_shape.h"
#include "engine/kernels/packed_weights.h"
#include "engine/kernels/workspace.h"

namespace qt {

// S (Cout, Cin, k, k) of the packed weights, into s.
void expand_signs(const PackedWeights& w, float* s);

void expanded_conv(Workspace& ws, const ConvShape& g, const PackedWeights& w, const float* x,
                   const float* scale, const float* shift, float* y);

}  // namespace qt
