#pragma once
// The convolution as its definition, in plain loops accumulating in double: the reference every
// fast algorithm (im2col, direct, Winograd) is checked against (tests/test_kernels.cpp). Slow; no
// layer runs it.
//   y[n, o, i, j] = b[o] + Σ_{c,a,b} W[o, c, a, b]·x[n, c, i·s − p + a, j·s − p + b]
//   dx[n, c, h, w] = Σ_{o,i,j,a,b: i·s − p + a = h, j·s − p + b = w} W[o, c, a, b]·dy[n, o, i, j]
//   dW[o, c, a, b] = Σ_{n,i,j} dy[n, o, i, j]·x[n, c, i·s − p + a, j·s − p + b]
//   db[o] = Σ_{n,i,j} dy[n, o, i, j]
// (x read as 0 outside the image.)
#include "engine/kernels/conv_shape.h"

namespace qt {

// y (N, Cout, Ho, Wo); w (Cout, Cin, k, k); bias nullable.
void reference_conv_forward(const ConvShape& g, const float* x, const float* w, const float* bias,
                            float* y);

// dw and db (nullable) are overwritten; dx (nullable) receives dL/dx.
void reference_conv_backward(const ConvShape& g, const float* x, const float* w, const float* dy,
                             float* dw, float* db, float* dx);

}  // namespace qt
