#include "engine/kernels/packed_conv.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <vector>

#include "engine/core/isa.h"
#include "engine/core/parallel.h"

// GCC 12's AVX-512 headers: see conv_direct_blocks.h (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace qt {

// Scalar popcnt over 8 words: the x86-64-v3 baseline has POPCNT.
namespace packed_portable {

struct V {
  uint64_t v[8];
};
inline V zero() {
  return V{};
}
inline V load(const uint64_t* p) {
  V r;
  for (int i = 0; i < 8; ++i) r.v[i] = p[i];
  return r;
}
inline V bcast(uint64_t x) {
  V r;
  for (int i = 0; i < 8; ++i) r.v[i] = x;
  return r;
}
#define QT_LANEWISE(name, expr)                \
  inline V name(V a, V b) {                    \
    V r;                                       \
    for (int i = 0; i < 8; ++i) r.v[i] = expr; \
    return r;                                  \
  }
QT_LANEWISE(add, a.v[i] + b.v[i])
QT_LANEWISE(sub, a.v[i] - b.v[i])
QT_LANEWISE(andv, a.v[i] & b.v[i])
QT_LANEWISE(xorv, a.v[i] ^ b.v[i])
QT_LANEWISE(orv, a.v[i] | b.v[i])
#undef QT_LANEWISE
inline V shl(V a, int j) {
  for (auto& x : a.v) x <<= j;
  return a;
}
inline V pc(V a) {
  for (auto& x : a.v) x = static_cast<uint64_t>(std::popcount(x));
  return a;
}
inline void store(int64_t* p, V a) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<int64_t>(a.v[i]);
}
// out[i] = sc[i]·s[i] + sh[i] for the 8 integer sums s (small enough for an int32)
inline void affine(V a, const float* sc, const float* sh, float* out) {
  for (int i = 0; i < 8; ++i)
    out[i] = sc[i] * static_cast<float>(static_cast<int32_t>(a.v[i])) + sh[i];
}
// bit i: sc[i]·s[i] + sh[i] ≥ 0 (the fused sign, on the same float as affine's)
inline uint32_t nonneg(V a, const float* sc, const float* sh) {
  float out[8];
  affine(a, sc, sh, out);
  uint32_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= static_cast<uint32_t>(out[i] >= 0.0f) << i;
  return bits;
}

#include "engine/kernels/packed_conv_tile.h"

}  // namespace packed_portable

// AVX2: two 4-word vectors; popcount by a 16-entry nibble table (VPSHUFB) summed per word with
// VPSADBW.
namespace packed_avx2 {

struct V {
  __m256i lo, hi;
};
inline V zero() {
  return {_mm256_setzero_si256(), _mm256_setzero_si256()};
}
inline V load(const uint64_t* p) {
  return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 4))};
}
inline V bcast(uint64_t x) {
  const __m256i v = _mm256_set1_epi64x(static_cast<long long>(x));
  return {v, v};
}
inline V add(V a, V b) {
  return {_mm256_add_epi64(a.lo, b.lo), _mm256_add_epi64(a.hi, b.hi)};
}
inline V sub(V a, V b) {
  return {_mm256_sub_epi64(a.lo, b.lo), _mm256_sub_epi64(a.hi, b.hi)};
}
inline V andv(V a, V b) {
  return {_mm256_and_si256(a.lo, b.lo), _mm256_and_si256(a.hi, b.hi)};
}
inline V xorv(V a, V b) {
  return {_mm256_xor_si256(a.lo, b.lo), _mm256_xor_si256(a.hi, b.hi)};
}
inline V orv(V a, V b) {
  return {_mm256_or_si256(a.lo, b.lo), _mm256_or_si256(a.hi, b.hi)};
}
inline V shl(V a, int j) {
  const __m128i s = _mm_cvtsi32_si128(j);
  return {_mm256_sll_epi64(a.lo, s), _mm256_sll_epi64(a.hi, s)};
}
inline __m256i pc4(__m256i v) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                         1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i bytes =
      _mm256_add_epi8(_mm256_shuffle_epi8(table, _mm256_and_si256(v, low)),
                      _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
  return _mm256_sad_epu8(bytes, _mm256_setzero_si256());
}
inline V pc(V a) {
  return {pc4(a.lo), pc4(a.hi)};
}
inline void store(int64_t* p, V a) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), a.lo);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 4), a.hi);
}
// the low halves of the 64-bit lanes, as 8 floats
inline __m256 to_float(V a) {
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m128i lo = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(a.lo, even));
  const __m128i hi = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(a.hi, even));
  return _mm256_cvtepi32_ps(_mm256_set_m128i(hi, lo));
}
// a multiply and an add, not an FMA: the same rounding as the portable path
inline __m256 affine8(__m256 f, const float* sc, const float* sh) {
  return _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(sc), f), _mm256_loadu_ps(sh));
}
inline void affine(V a, const float* sc, const float* sh, float* out) {
  _mm256_storeu_ps(out, affine8(to_float(a), sc, sh));
}
inline uint32_t nonneg(V a, const float* sc, const float* sh) {
  const __m256 y = affine8(to_float(a), sc, sh);
  return static_cast<uint32_t>(
      _mm256_movemask_ps(_mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GE_OQ)));
}

#include "engine/kernels/packed_conv_tile.h"

}  // namespace packed_avx2

// AVX-512 with VPOPCNTDQ: one vector of 8 words, VPOPCNTQ.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx512vpopcntdq")
namespace packed_avx512 {

using V = __m512i;
inline V zero() {
  return _mm512_setzero_si512();
}
inline V load(const uint64_t* p) {
  return _mm512_loadu_si512(p);
}
inline V bcast(uint64_t x) {
  return _mm512_set1_epi64(static_cast<long long>(x));
}
inline V add(V a, V b) {
  return _mm512_add_epi64(a, b);
}
inline V sub(V a, V b) {
  return _mm512_sub_epi64(a, b);
}
inline V andv(V a, V b) {
  return _mm512_and_si512(a, b);
}
inline V xorv(V a, V b) {
  return _mm512_xor_si512(a, b);
}
inline V orv(V a, V b) {
  return _mm512_or_si512(a, b);
}
inline V shl(V a, int j) {
  return _mm512_sll_epi64(a, _mm_cvtsi32_si128(j));
}
inline V pc(V a) {
  return _mm512_popcnt_epi64(a);
}
inline void store(int64_t* p, V a) {
  _mm512_storeu_si512(p, a);
}
inline __m256 affine8(V a, const float* sc, const float* sh) {
  const __m256 f = _mm256_cvtepi32_ps(_mm512_cvtepi64_epi32(a));
  return _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(sc), f), _mm256_loadu_ps(sh));
}
inline void affine(V a, const float* sc, const float* sh, float* out) {
  _mm256_storeu_ps(out, affine8(a, sc, sh));
}
inline uint32_t nonneg(V a, const float* sc, const float* sh) {
  return _mm256_cmp_ps_mask(affine8(a, sc, sh), _mm256_setzero_ps(), _CMP_GE_OQ);
}

#include "engine/kernels/packed_conv_tile.h"

}  // namespace packed_avx512
#pragma GCC pop_options

namespace {

void dispatch(const ConvShape& g, int bits, const PackedWeights& w, const uint64_t* x,
              const float* scale, const float* shift, float* y, uint64_t* signs, bool xnor) {
  switch (packed_path()) {
    case PackedPath::Avx512:
      packed_avx512::run(g, bits, w, x, scale, shift, y, signs, xnor);
      return;
    case PackedPath::Avx2:
      packed_avx2::run(g, bits, w, x, scale, shift, y, signs, xnor);
      return;
    case PackedPath::Portable:
      packed_portable::run(g, bits, w, x, scale, shift, y, signs, xnor);
      return;
  }
}

}  // namespace

namespace {

void check_bits(int bits) {
  if (bits < 1 || bits > 16)
    throw std::invalid_argument("bitserial_conv: bits must be 1..16, got " + std::to_string(bits));
}

// The output signs zeroed: the kernels OR each block's bits in, and padding bits stay 0.
uint64_t* zeroed_signs(const ConvShape& g, std::vector<uint64_t>& signs) {
  signs.assign(static_cast<size_t>(g.n * g.ho() * g.wo() * words_for(g.cout)), 0);
  return signs.data();
}

}  // namespace

void xnor_conv(const ConvShape& g, const PackedWeights& w, const uint64_t* x, const float* scale,
               const float* shift, float* y) {
  check_packed_shape(g, w, "xnor_conv");
  dispatch(g, 1, w, x, scale, shift, y, nullptr, true);
}

void bitserial_conv(const ConvShape& g, int bits, const PackedWeights& w, const uint64_t* x,
                    const float* scale, const float* shift, float* y) {
  check_packed_shape(g, w, "bitserial_conv");
  check_bits(bits);
  dispatch(g, bits, w, x, scale, shift, y, nullptr, false);
}

void xnor_conv_signs(const ConvShape& g, const PackedWeights& w, const uint64_t* x,
                     const float* scale, const float* shift, std::vector<uint64_t>& signs) {
  check_packed_shape(g, w, "xnor_conv_signs");
  dispatch(g, 1, w, x, scale, shift, nullptr, zeroed_signs(g, signs), true);
}

void bitserial_conv_signs(const ConvShape& g, int bits, const PackedWeights& w, const uint64_t* x,
                          const float* scale, const float* shift, std::vector<uint64_t>& signs) {
  check_packed_shape(g, w, "bitserial_conv_signs");
  check_bits(bits);
  dispatch(g, bits, w, x, scale, shift, nullptr, zeroed_signs(g, signs), false);
}

}  // namespace qt
