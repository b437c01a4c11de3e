#include "engine/kernels/packed_weights.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <stdexcept>

#include "engine/core/cpu_features.h"
#include "engine/core/isa.h"
#include "engine/core/parallel.h"

namespace qt {

namespace {

std::atomic<int> g_forced{-1};  // -1: the best available

}  // namespace

bool packed_path_available(PackedPath p) {
  switch (p) {
    case PackedPath::Portable:
      return true;
    case PackedPath::Avx2:
      return true;  // the build's baseline is x86-64-v3
    case PackedPath::Avx512:
      return cpu_has_avx512() && cpu_features().avx512_vpopcntdq;
  }
  return false;
}

PackedPath packed_path() {
  const int forced = g_forced.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<PackedPath>(forced);
  if (use_avx512() && packed_path_available(PackedPath::Avx512)) return PackedPath::Avx512;
  return PackedPath::Avx2;
}

void set_packed_path(PackedPath p) {
  if (!packed_path_available(p))
    throw std::invalid_argument(std::string("set_packed_path: this CPU cannot run the ") +
                                packed_path_name(p) + " packed kernels");
  g_forced.store(static_cast<int>(p), std::memory_order_relaxed);
}

void clear_packed_path() {
  g_forced.store(-1, std::memory_order_relaxed);
}

const char* packed_path_name(PackedPath p) {
  switch (p) {
    case PackedPath::Portable:
      return "portable";
    case PackedPath::Avx2:
      return "AVX2";
    case PackedPath::Avx512:
      return "AVX-512 VPOPCNTDQ";
  }
  return "?";
}

int64_t words_for(int64_t channels) {
  return (channels + 63) / 64;
}

bool pack_weights(const float* w, int64_t cout, int64_t cin, int64_t k, PackedWeights& out,
                  std::string& why) {
  out.cout = cout;
  out.cin = cin;
  out.k = k;
  out.words = words_for(cin);
  out.cout_pad = (cout + kOutTile - 1) / kOutTile * kOutTile;
  out.ternary = false;
  const int64_t taps = k * k, row = cin * taps;
  out.pos.assign(static_cast<size_t>(taps * out.words * out.cout_pad), 0);
  out.neg.assign(out.pos.size(), 0);
  out.beta.assign(static_cast<size_t>(cout), 0.0f);
  for (int64_t o = 0; o < cout; ++o) {
    const float* r = w + o * row;
    float beta = 0.0f;
    for (int64_t i = 0; i < row; ++i) {
      const float m = std::abs(r[i]);
      if (m == 0.0f) {
        out.ternary = true;
        continue;
      }
      if (beta == 0.0f) beta = m;
      if (m != beta || !std::isfinite(m)) {
        why = "output channel " + std::to_string(o) + " holds the magnitudes " +
              std::to_string(beta) + " and " + std::to_string(m) +
              ": not binary or ternary (one ±β per channel, and 0)";
        return false;
      }
    }
    out.beta[static_cast<size_t>(o)] = beta;
    for (int64_t c = 0; c < cin; ++c)
      for (int64_t t = 0; t < taps; ++t) {
        const float v = r[c * taps + t];
        if (v == 0.0f) continue;
        const size_t at = static_cast<size_t>((t * out.words + c / 64) * out.cout_pad + o);
        (v > 0.0f ? out.pos : out.neg)[at] |= uint64_t{1} << (c % 64);
      }
  }
  if (!out.ternary) out.neg.clear();  // NOT pos on the real channels: the kernels derive it
  return true;
}

void check_packed_shape(const ConvShape& g, const PackedWeights& w, const char* who) {
  if (g.cin != w.cin || g.cout != w.cout || g.k != w.k)
    throw std::invalid_argument(std::string(who) + ": the shape's channels or kernel (" +
                                std::to_string(g.cin) + " → " + std::to_string(g.cout) + ", k " +
                                std::to_string(g.k) + ") are not the packed weights' (" +
                                std::to_string(w.cin) + " → " + std::to_string(w.cout) + ", k " +
                                std::to_string(w.k) + ")");
}

// The 8×8 bit matrix m (bit 8·i + j = row i, column j) transposed: bit 8·j + i. Three rounds of
// swapping off-diagonal blocks (2×2 bits, then 4×4, then 8×8 halves; Hacker's Delight 7-3).
static uint64_t transpose8(uint64_t m) {
  uint64_t t = (m ^ (m >> 7)) & 0x00AA00AA00AA00AAULL;
  m ^= t ^ (t << 7);
  t = (m ^ (m >> 14)) & 0x0000CCCC0000CCCCULL;
  m ^= t ^ (t << 14);
  t = (m ^ (m >> 28)) & 0x00000000F0F0F0F0ULL;
  return m ^ t ^ (t << 28);
}

// One image row of pack_signs: channel ch's w pixels at src + ch·cstride, into row[j·words + wd].
// NCHW to channel words is a bit transpose: per 8 channels × 8 pixels, one compare and movemask per
// channel gives a byte of 8 pixels' signs, the 8×8 block is transposed, and each pixel's byte goes
// to its place in the pixel's word (x86 is little-endian: byte g of a word holds bits 8g…8g+7).
static void pack_row(const float* src, int64_t cstride, int64_t c, int64_t w, int64_t words,
                     uint64_t* row) {
  static_assert(std::endian::native == std::endian::little);
  const int64_t w8 = w - w % 8;
  auto* bytes = reinterpret_cast<uint8_t*>(row);
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t wd = 0; wd < words; ++wd)
    for (int64_t g = 0; g < 8; ++g) {
      const int64_t c0 = 64 * wd + 8 * g, rows = std::clamp<int64_t>(c - c0, 0, 8);
      for (int64_t j0 = 0; j0 < w8; j0 += 8) {
        uint64_t m = 0;  // bit 8·r + k: channel c0 + r at pixel j0 + k is ≥ 0
        for (int64_t r = 0; r < rows; ++r) {
          const __m256 v = _mm256_loadu_ps(src + (c0 + r) * cstride + j0);
          // ≥ 0, ordered: false for NaN, true for −0, as the scalar test
          m |= static_cast<uint64_t>(_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_GE_OQ)))
               << (8 * r);
        }
        m = transpose8(m);
        for (int64_t k = 0; k < 8; ++k)
          bytes[((j0 + k) * words + wd) * 8 + g] = static_cast<uint8_t>(m >> (8 * k));
      }
    }
  for (int64_t j = w8; j < w; ++j)  // the last w mod 8 pixels one by one
    for (int64_t wd = 0; wd < words; ++wd) {
      uint64_t word = 0;
      for (int64_t ch = 64 * wd; ch < std::min(c, 64 * wd + 64); ++ch)
        word |= static_cast<uint64_t>(src[ch * cstride + j] >= 0.0f) << (ch % 64);
      row[j * words + wd] = word;
    }
}

void pack_signs(const float* x, int64_t n, int64_t c, int64_t h, int64_t w,
                std::vector<uint64_t>& out) {
  const int64_t words = words_for(c), plane = h * w;
  out.resize(static_cast<size_t>(n * plane * words));
  parallel_for(n * h, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t s = r / h, y = r % h;
      pack_row(x + (s * c * h + y) * w, plane, c, w, words,
               out.data() + (s * plane + y * w) * words);
    }
  });
}

// One word column at a time through a row buffer, so that the loop over the pixels of a channel's
// row reads and writes contiguous memory and vectorizes (the words of one pixel are `words` apart
// in the packed layout).
void unpack_signs(const uint64_t* bits, int64_t n, int64_t c, int64_t h, int64_t w, float* y) {
  const int64_t words = words_for(c), plane = h * w;
  parallel_for(n * h, 1, [&](int64_t r0, int64_t r1) {
    std::vector<uint64_t> acc(static_cast<size_t>(w));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t s = r / h, row = r % h;
      const uint64_t* src = bits + (s * plane + row * w) * words;
      for (int64_t wd = 0; wd < words; ++wd) {
        uint64_t* a = acc.data();
        for (int64_t i = 0; i < w; ++i) a[i] = src[i * words + wd];
        for (int64_t ch = 64 * wd; ch < std::min(c, 64 * wd + 64); ++ch) {
          float* dst = y + ((s * c + ch) * h + row) * w;
          const int b = static_cast<int>(ch % 64);
          for (int64_t i = 0; i < w; ++i)
            dst[i] = static_cast<float>(2 * static_cast<int64_t>((a[i] >> b) & 1) - 1);
        }
      }
    }
  });
}

// One image row of pack_codes, as pack_row: per 8 channels × 8 pixels, q for 8 pixels of a channel
// at once, then per bit plane a movemask of that bit and an 8×8 transpose. Returns false when some
// value is off the grid.
static bool pack_codes_row(const float* src, int64_t cstride, int64_t c, int64_t w, int64_t words,
                           float alpha, int bits, uint64_t* row) {
  const int64_t w8 = w - w % 8, top = (int64_t{1} << bits) - 1;
  auto* bytes = reinterpret_cast<uint8_t*>(row);
  const __m256 va = _mm256_set1_ps(alpha), tol = _mm256_set1_ps(1e-3f);
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i below = _mm256_set1_epi32(-1), above = _mm256_set1_epi32(static_cast<int>(top + 1));
  __m256i ok = _mm256_set1_epi32(-1);
  for (int64_t wd = 0; wd < words; ++wd)
    for (int64_t g = 0; g < 8; ++g) {
      const int64_t c0 = 64 * wd + 8 * g, rows = std::clamp<int64_t>(c - c0, 0, 8);
      for (int64_t j0 = 0; j0 < w8; j0 += 8) {
        uint64_t m[16] =
            {};  // per plane b: bit 8·r + k = bit b of q at channel c0 + r, pixel j0 + k
        for (int64_t r = 0; r < rows; ++r) {
          // the scalar path's f = x / α and lrint (round to nearest even), 8 at a time
          const __m256 f = _mm256_div_ps(_mm256_loadu_ps(src + (c0 + r) * cstride + j0), va);
          const __m256i q = _mm256_cvtps_epi32(f);  // out of range or NaN: INT_MIN, refused below
          const __m256 err = _mm256_and_ps(_mm256_sub_ps(f, _mm256_cvtepi32_ps(q)), magnitude);
          ok = _mm256_and_si256(ok, _mm256_cmpgt_epi32(q, below));
          ok = _mm256_and_si256(ok, _mm256_cmpgt_epi32(above, q));
          ok = _mm256_and_si256(ok, _mm256_castps_si256(_mm256_cmp_ps(err, tol, _CMP_LT_OQ)));
          for (int b = 0; b < bits; ++b)
            m[b] |= static_cast<uint64_t>(
                        _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(q, 31 - b))))
                    << (8 * r);
        }
        for (int b = 0; b < bits; ++b) {
          const uint64_t t = transpose8(m[b]);
          for (int64_t k = 0; k < 8; ++k)
            bytes[(((j0 + k) * bits + b) * words + wd) * 8 + g] =
                static_cast<uint8_t>(t >> (8 * k));
        }
      }
    }
  bool on_grid = _mm256_movemask_epi8(ok) == -1;
  for (int64_t j = w8; j < w; ++j)  // the last w mod 8 pixels one by one
    for (int64_t wd = 0; wd < words; ++wd) {
      uint64_t planes[16] = {};
      for (int64_t ch = 64 * wd; ch < std::min(c, 64 * wd + 64); ++ch) {
        // x = fl(α·q): x/α is within a few ulps of q, so rounding recovers q exactly.
        const float f = src[ch * cstride + j] / alpha;
        const int64_t q = std::lrint(f);
        on_grid = on_grid && q >= 0 && q <= top && std::abs(f - static_cast<float>(q)) < 1e-3f;
        for (int b = 0; b < bits; ++b)
          planes[b] |= static_cast<uint64_t>((q >> b) & 1) << (ch % 64);
      }
      for (int b = 0; b < bits; ++b) row[(j * bits + b) * words + wd] = planes[b];
    }
  return on_grid;
}

bool pack_codes(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float alpha, int bits,
                std::vector<uint64_t>& out) {
  if (bits < 1 || bits > 16)
    throw std::invalid_argument("pack_codes: bits must be 1..16, got " + std::to_string(bits));
  const int64_t words = words_for(c), plane = h * w;
  out.resize(static_cast<size_t>(n * plane * bits * words));
  std::atomic<bool> on_grid{true};
  parallel_for(n * h, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t s = r / h, y = r % h;
      if (!pack_codes_row(x + (s * c * h + y) * w, plane, c, w, words, alpha, bits,
                          out.data() + (s * plane + y * w) * bits * words))
        on_grid.store(false);
    }
  });
  return on_grid.load();
}

}  // namespace qt
