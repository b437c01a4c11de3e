#pragma once
// Direct stride-1 convolution, vectorised over output pixels, with no im2col copy and no packing.
//
// Output pixel (i, j) sits at q = i·W + j of a grid of rows exactly W wide (W = input width), and
// tap (c, a, b) of every output reads the input at q + a·W + (b − p) in a copy of plane c padded
// with p zero rows above and below. A read past the end of a row wraps into the neighbouring row,
// so each column offset d = b − p has its own copy of the input in which the columns such reads
// can reach are zero (the last −d columns for d < 0, the first d for d > 0). The products are then
// GEMMs whose right operand is a set of shifted views of those copies:
//   y  = W·shift(x)                             (M = Cout, K = Cin·k²)
//   dx = W'·shift(dy), W' = W flipped in space with Cin and Cout swapped, dy padded by k − 1 − p
//   dW = Σ_q dy[o][q]·shift(x)[t][q]            (an inner product over pixels)
// For "same" convolutions (Wo = W) y, dx and dy are the grids themselves: nothing is copied out.
// Work is split by samples and fixed groups of samples, so results are bit-identical for every
// thread count. Needs AVX-512 (direct_conv_available()); Conv2d falls back to im2col otherwise.
// Scratch comes from the caller's Workspace; nothing is allocated in steady state.
#include <cstdint>

#include "engine/kernels/conv_shape.h"
#include "engine/kernels/workspace.h"

namespace qt {

// Whether the direct kernels can run here (the AVX-512 kernel path).
bool direct_conv_available();

// Stride 1 (g.stride is ignored). y (N, Cout, Ho, Wo) = conv(x, w) + bias; w is (Cout, Cin, k, k),
// bias nullable; any 2·pad ≤ k − 1 (outputs no wider than the input: the grid drops the extra
// columns).
void direct_conv_forward(Workspace& ws, const ConvShape& g, const float* x, const float* w,
                         const float* bias, float* y);

// dw and db (nullable) are overwritten; dx (nullable) receives dL/dx. dx needs a "same"
// convolution, 2·pad = k − 1 (rows of y, x, dy and dx all W wide); dW and db take any
// 2·pad ≤ k − 1.
void direct_conv_backward(Workspace& ws, const ConvShape& g, const float* x, const float* w,
                          const float* dy, float* dw, float* db, float* dx);

// Stride 2 (conv_direct_s2.cpp): the same kernels over the four phases of the input, for
// "same"-padded kernels (2·pad = k − 1) on even H × W; y and dy are (N, Cout, H/2, W/2).
// ResNet's downsampling convolutions.
bool direct_conv_s2_applies(int64_t k, int64_t pad, int64_t h, int64_t w);
void direct_conv_s2_forward(Workspace& ws, const ConvShape& g, const float* x, const float* w,
                            const float* bias, float* y);
void direct_conv_s2_backward(Workspace& ws, const ConvShape& g, const float* x, const float* w,
                             const float* dy, float* dw, float* db, float* dx);

}  // namespace qt
