#pragma once
// The bit layouts of the packed inference kernels (packed_conv.h, packed_signselect.h) and the
// choice of their instruction-set path.
//
// Weights: a conv weight W (Cout, Cin, k, k) whose rows each hold values of {−β_o, 0, +β_o}
// (binary: ±β_o; ternary: with zeros) becomes two bit planes, `pos` (W > 0) and `neg` (W < 0),
// laid out [tap = a·k + b][word of Cin][Cout rounded up to kOutTile]: bit c % 64 of word c / 64.
// Output channels are contiguous so that one vector covers 8 of them; padding channels and the
// padding bits of the last word are 0 in both planes. Binary weights keep `pos` only (1 bit per
// weight): `neg` is NOT pos on the real channels, and the kernels derive it. β_o is kept apart
// (`beta`): the kernels compute integer sums and the caller multiplies by the scales. A linear
// layer (out, in) is the same with k = 1 on a 1×1 image.
//
// Inputs (NCHW floats in, packed NHWC words out), one pixel's channels in `words` 64-bit words:
//   binary  x ∈ {−1, +1}: bit 1 for +1 (x ≥ 0: sign(0) = +1), [n][h][w][words];
//   codes   x = α·q, q ∈ {0 … 2^b − 1}: q's bit planes, [n][h][w][plane][words].
#include <cstdint>
#include <string>
#include <vector>

#include "engine/kernels/conv_shape.h"

namespace qt {

// The kernels' path: AVX-512 with VPOPCNTDQ (a vector popcount of 8 words), AVX2 (popcount by
// nibble table lookups, 4 words per vector), or portable scalar popcnt.
enum class PackedPath { Portable, Avx2, Avx512 };

// The best path this CPU can run (Avx512 needs the AVX-512 kernel path of engine/core/isa.h and
// VPOPCNTDQ; Avx2 when the AVX2 path is forced), unless set_packed_path forced one.
PackedPath packed_path();
bool packed_path_available(PackedPath p);
// Forces a path for this process (tests, benchmarks); std::invalid_argument if unavailable.
void set_packed_path(PackedPath p);
void clear_packed_path();                    // back to the best available
const char* packed_path_name(PackedPath p);  // "AVX-512 VPOPCNTDQ", "AVX2", "portable"

constexpr int64_t kOutTile = 16;  // output channels per register block (two vectors of 8)

struct PackedWeights {
  int64_t cout = 0, cin = 0, k = 1, words = 0, cout_pad = 0;
  bool ternary = false;            // some weight is 0
  std::vector<uint64_t> pos, neg;  // [k·k][words][cout_pad]; neg empty when binary
  std::vector<float> beta;         // [cout] the magnitude of row o (0 for an all-zero row)
  int64_t bytes() const {
    return static_cast<int64_t>((pos.size() + neg.size()) * 8 + beta.size() * 4);
  }
};

int64_t words_for(int64_t channels);  // ⌈channels / 64⌉

// Packs w (Cout, Cin, k, k). Returns false (leaving `why` set) when a row holds values other
// than {−β, 0, +β} for one β: such a layer is not binary or ternary.
bool pack_weights(const float* w, int64_t cout, int64_t cin, int64_t k, PackedWeights& out,
                  std::string& why);

// Throws std::invalid_argument, naming the kernel `who`, unless g's channels and kernel are w's.
void check_packed_shape(const ConvShape& g, const PackedWeights& w, const char* who);

// x (N, C, H, W) → binary words [n][h][w][words]: bit 1 where x ≥ 0.
void pack_signs(const float* x, int64_t n, int64_t c, int64_t h, int64_t w,
                std::vector<uint64_t>& out);
// The inverse: words [n][h][w][words] → y (N, C, H, W) ∈ {−1, +1}, +1 where the bit is 1. For a
// float layer that needs the ±1 values themselves (an identity shortcut adds them).
void unpack_signs(const uint64_t* bits, int64_t n, int64_t c, int64_t h, int64_t w, float* y);
// x (N, C, H, W) = α·q → the bit planes of q ∈ [0, 2^bits − 1], [n][h][w][bits][words]. Returns
// false when some x is not α·q for such a q (to rounding): the input is not on that grid.
bool pack_codes(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float alpha, int bits,
                std::vector<uint64_t>& out);

}  // namespace qt
