#pragma once
// The popcount convolutions of the packed inference engine, over the layouts of packed_weights.h.
// Both compute an integer sum s exactly and write y = scale[o]·s + shift[o] (NCHW floats): the
// caller folds the scales, the bias and a following BatchNorm into scale and shift.
//
//   xnor      binary x ∈ {−1, +1} (packed signs) × binary or ternary W ∈ {−1, 0, +1}:
//               s = Σ_{taps inside the image} Σ_c W·x = M − 2·popcount((x XOR pos) AND nonzero)
//             with M the number of nonzero weights over those taps (Cin per tap when binary).
//             Taps in the zero padding add nothing, as 0 does in the float convolution.
//   bitserial b-bit codes q = Σ_j 2^j·q_j (bit planes) × binary or ternary W:
//               s = Σ W·q = Σ_j 2^j·(popcount(q_j AND pos) − popcount(q_j AND neg))
//             (q = 0 in the padding: nothing to skip but the taps outside the image.)
// Work is split over (sample, output row, block of 16 output channels): every y is computed by
// one task in one order, so results are the same on any thread count and any path.
#include <cstdint>
#include <vector>

#include "engine/kernels/conv_shape.h"
#include "engine/kernels/packed_weights.h"

namespace qt {

// g: the convolution's sizes (g.cin, g.cout, g.k must be w's); x from pack_signs.
void xnor_conv(const ConvShape& g, const PackedWeights& w, const uint64_t* x, const float* scale,
               const float* shift, float* y);
// x from pack_codes with `bits` planes.
void bitserial_conv(const ConvShape& g, int bits, const PackedWeights& w, const uint64_t* x,
                    const float* scale, const float* shift, float* y);

// The same convolutions followed by a sign activation, fused: instead of y, its signs packed as
// pack_signs packs them (bit 1 where y ≥ 0), [n][ho][wo][⌈Cout / 64⌉], for the next xnor_conv.
// Bit for bit pack_signs of the y above: the y ≥ 0 test is on the same float.
void xnor_conv_signs(const ConvShape& g, const PackedWeights& w, const uint64_t* x,
                     const float* scale, const float* shift, std::vector<uint64_t>& signs);
void bitserial_conv_signs(const ConvShape& g, int bits, const PackedWeights& w, const uint64_t* x,
                          const float* scale, const float* shift, std::vector<uint64_t>& signs);

}  // namespace qt
