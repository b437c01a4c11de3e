#pragma once
// Convolution by im2col + GEMM, for any shape: per chunk of samples, the input patches become the
// columns of a (Cin·k²) × (samples·Ho·Wo) matrix, and the convolution one GEMM with W
// (Cout × Cin·k²):
//   y    = W·col + b
//   dW   = Σ_chunks dY·colᵀ,  db = Σ_chunks Σ_cols dY
//   dcol = Wᵀ·dY, scattered back into dx by col2im (the adjoint of im2col)
// Chunks hold about 1024 GEMM columns, from the shapes only, and dW and db are the chunks'
// partials summed in chunk order: the same results for every thread count.
#include "engine/kernels/conv_shape.h"
#include "engine/kernels/workspace.h"

namespace qt {

// y (N, Cout, Ho, Wo) = conv(x, w) + bias; w is (Cout, Cin, k, k), bias nullable.
void im2col_conv_forward(Workspace& ws, const ConvShape& g, const float* x, const float* w,
                         const float* bias, float* y);

// dw and db (nullable) are overwritten, dx (nullable) receives dL/dx. dw == nullptr computes dx
// alone (db is then ignored): Conv2d's "valid" convolutions take dW and db from the direct kernel.
void im2col_conv_backward(Workspace& ws, const ConvShape& g, const float* x, const float* w,
                          const float* dy, float* dw, float* db, float* dx);

}  // namespace qt
