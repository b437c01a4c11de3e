#pragma once
// Winograd F(2×2, 3×3) convolution (Lavin & Gray 2016) for 3×3 stride-1 kernels: each 2×2 output
// tile is Y = Aᵀ[Σ_c (G g G ᵀ) ⊙ (Bᵀ d B)]A over the 4×4 input tile d, so the products become 16
// GEMMs in the transformed domain with 2.25× fewer multiplications than im2col. The backward pass
// is the exact adjoint of that computation (the transforms transposed), so its gradients are those
// of the function the forward computed. Work is split by shapes only: bit-identical results for
// every thread count.
#include "engine/kernels/conv_shape.h"
#include "engine/kernels/workspace.h"

namespace qt {

// g.k = 3, g.stride = 1. y (N, Cout, Ho, Wo) = conv(x, w) + bias; w is (Cout, Cin, 3, 3), bias
// nullable.
void winograd_forward(Workspace& ws, const ConvShape& g, const float* x, const float* w,
                      const float* bias, float* y);

// dw (Cout, Cin, 3, 3) and db (nullable) are overwritten; dx (nullable) receives dL/dx.
void winograd_backward(Workspace& ws, const ConvShape& g, const float* x, const float* w,
                       const float* dy, float* dw, float* db, float* dx);

}  // namespace qt
