#include "engine/kernels/packed_weights.h"

#include <algorithm>
#include <atomic>
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

// Both directions run one word column at a time through a row buffer, so that the loop over the
// pixels of a channel's row reads and writes contiguous memory and vectorizes (the words of one
// pixel are `words` apart in the packed layout).
void check_packed_shape(const ConvShape& g, const PackedWeights& w, const char* who) {
  if (g.cin != w.cin || g.cout != w.cout || g.k != w.k)
    throw std::invalid_argument(std::string(who) + ": the shape's channels or kernel (" +
                                std::to_string(g.cin) + " → " + std::to_string(g.cout) + ", k " +
                                std::to_string(g.k) + ") are not the packed weights' (" +
                                std::to_string(w.cin) + " → " + std::to_string(w.cout) + ", k " +
                                std::to_string(w.k) + ")");
}

void pack_signs(const float* x, int64_t n, int64_t c, int64_t h, int64_t w,
                std::vector<uint64_t>& out) {
  const int64_t words = words_for(c), plane = h * w;
  out.resize(static_cast<size_t>(n * plane * words));
  parallel_for(n * h, 1, [&](int64_t r0, int64_t r1) {
    std::vector<uint64_t> acc(static_cast<size_t>(w));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t s = r / h, y = r % h;
      uint64_t* row = out.data() + (s * plane + y * w) * words;
      for (int64_t wd = 0; wd < words; ++wd) {
        std::fill(acc.begin(), acc.end(), 0);
        uint64_t* a = acc.data();
        for (int64_t ch = 64 * wd; ch < std::min(c, 64 * wd + 64); ++ch) {
          const float* src = x + ((s * c + ch) * h + y) * w;
          const int b = static_cast<int>(ch % 64);
          // without a branch: the signs of a feature map are random
          for (int64_t i = 0; i < w; ++i) a[i] |= static_cast<uint64_t>(src[i] >= 0.0f) << b;
        }
        for (int64_t i = 0; i < w; ++i) row[i * words + wd] = a[i];
      }
    }
  });
}

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

bool pack_codes(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float alpha, int bits,
                std::vector<uint64_t>& out) {
  const int64_t words = words_for(c), plane = h * w, top = (int64_t{1} << bits) - 1;
  out.assign(static_cast<size_t>(n * plane * bits * words), 0);
  std::atomic<bool> on_grid{true};
  parallel_for(n * h, 1, [&](int64_t r0, int64_t r1) {
    bool ok = true;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t s = r / h, y = r % h;
      uint64_t* row = out.data() + (s * plane + y * w) * bits * words;
      for (int64_t ch = 0; ch < c; ++ch) {
        const float* src = x + ((s * c + ch) * h + y) * w;
        uint64_t* dst = row + ch / 64;
        for (int64_t i = 0; i < w; ++i) {
          // x = fl(α·q): x/α is within a few ulps of q, so rounding recovers q exactly.
          const float f = src[i] / alpha;
          const int64_t q = std::lrint(f);
          ok = ok && q >= 0 && q <= top && std::abs(f - static_cast<float>(q)) < 1e-3f;
          for (int b = 0; b < bits; ++b)
            dst[(i * bits + b) * words] |= static_cast<uint64_t>((q >> b) & 1) << (ch % 64);
        }
      }
    }
    if (!ok) on_grid.store(false);
  });
  return on_grid.load();
}

}  // namespace qt
