#pragma once
// Binary or ternary weights over float inputs, without multiplications: each weight's sign
// selects whether x is added, subtracted or skipped, and the row's β is applied once at the end:
//   y[n, o, i, j] = scale[o]·Σ_{c,a,b} (x if W > 0, −x if W < 0, 0 if W = 0) + shift[o]
// over the taps inside the image (the zero padding adds nothing), W from packed_weights.h and x
// as NCHW floats (the first layer's image, or a layer after a float activation). Sums run in
// float in the order c, a, b: the float convolution's value to rounding. Work is split over
// (sample, output row): the same result on any thread count.
#include "engine/kernels/conv_shape.h"
#include "engine/kernels/packed_weights.h"

namespace qt {

void signselect_conv(const ConvShape& g, const PackedWeights& w, const float* x, const float* scale,
                     const float* shift, float* y);

}  // namespace qt
