#pragma once
// Direct stride-1 convolution, vectorised over output pixels. The input plane is zero-padded
// once, with rows of width Wp = W + 2p; output pixel (i, j) sits at q = i·Wp + j of the same grid,
// so tap (c, a, b) of every output is the padded input at q + c·plane + a·Wp + b. The products are
// then GEMMs whose right operand is a set of shifted views of the padded input: no im2col copy and
// no packing, and the Wp − Wo extra columns per row are computed and dropped.
//   y  = W·shift(x_pad)                      (M = Cout, K = Cin·k²)
//   dx = W'·shift(dy_pad), W' = W flipped in space with Cin and Cout swapped, dy padded by k − 1 − p
//   dW = Σ_q dy_grid[o][q]·x_pad[q + tap]    (dy on the same grid, zero at the dropped columns)
// Work is split by samples and fixed groups of samples, so results are bit-identical for every
// thread count. Needs AVX-512 (direct_conv_available()); Conv2d falls back to im2col otherwise.
#include <cstdint>

namespace qt {

struct ConvStride1 {
  int64_t n, cin, cout, h, w, k, pad;  // input (N, Cin, H, W), k×k kernel, padding on each side
  int64_t ho() const { return h + 2 * pad - k + 1; }
  int64_t wo() const { return w + 2 * pad - k + 1; }
};

bool direct_conv_available();

// y (N, Cout, Ho, Wo) = conv(x, w) + bias; w is (Cout, Cin, k, k), bias nullable.
void direct_conv_forward(const ConvStride1& g, const float* x, const float* w, const float* bias, float* y);

// dw and db (nullable) are overwritten; dx (nullable) receives dL/dx. Needs pad ≤ k − 1.
void direct_conv_backward(const ConvStride1& g, const float* x, const float* w, const float* dy, float* dw,
                          float* db, float* dx);

}  // namespace qt
