#pragma once
// Building blocks shared by the projections, and the per-tensor kernels that projection.cpp
// dispatches to (per channel, it calls them once per row).
//
// Determinism (engine/kernels/ordered_reduction.h): every reduction runs over fixed chunks of
// kChunk elements. Inside a chunk, kLanes interleaved double accumulators (element b + j goes to
// lane j % kLanes), summed in lane order; then the chunk partials in chunk order. Nothing depends
// on how TBB splits the work, so results are identical for every thread count.
//
// Speed: the per-element work goes through blocks of kBlock: one plain loop maps a block into
// local buffers, a second adds the buffers into the lanes. GCC vectorizes both; a single loop
// mixing selects, stores and lanes stays scalar and branchy (10× slower).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/kernels/ordered_reduction.h"

namespace qt::detail {

constexpr int64_t kChunk = int64_t{1} << 15;
constexpr int64_t kBlock = 256;  // a multiple of kLanes
constexpr int kLanes = 8;

// fn(begin, end) → T for every chunk of kChunk, summed in chunk order (T needs += and a zero T{}).
template <class T, class Fn>
T chunked_reduce(int64_t n, const Fn& fn) {
  return qt::chunked_reduce<T>(n, kChunk, fn);
}

// Two sums at once (most passes need two: Σ|w|k and Σk², ‖w − Q‖² and ‖w‖², …).
struct Sums {
  double a = 0, b = 0;
  Sums& operator+=(const Sums& o) {
    a += o.a;
    b += o.b;
    return *this;
  }
};

// The lane sums over one chunk [b, e): fill(i, len, A, B) writes the two terms of elements
// i .. i+len−1 into A[0..len) and B[0..len).
template <class Fill>
Sums block_sums(int64_t b, int64_t e, Fill&& fill) {
  Lanes<double, kLanes> sa, sb;
  double ta[kBlock], tb[kBlock];
  for (int64_t i = b; i < e; i += kBlock) {
    const int64_t len = std::min(kBlock, e - i);
    fill(i, len, ta, tb);
    sa.add(len, [&](int64_t j) { return ta[j]; });
    sb.add(len, [&](int64_t j) { return tb[j]; });
  }
  Sums r;
  r.a = sa.total();
  r.b = sb.total();
  return r;
}

// Σ_i f(w_i) over the whole span, f: float → Sums.
template <class F>
Sums chunked_sums(std::span<const float> w, F f) {
  const float* in = w.data();
  return chunked_reduce<Sums>(static_cast<int64_t>(w.size()), [&](int64_t b, int64_t e) {
    return block_sums(b, e, [&](int64_t i, int64_t len, double* ta, double* tb) {
      // A local copy: f's captures could otherwise alias ta and tb, and be reloaded every time.
      const F g = f;
      const float* src = in + i;
      for (int64_t j = 0; j < len; ++j) {
        const Sums t = g(src[j]);
        ta[j] = t.a;
        tb[j] = t.b;
      }
    });
  });
}

// The bits of |x|: an unsigned integer that orders magnitudes like the floats do.
inline uint32_t magnitude_bits(float x) {
  return std::bit_cast<uint32_t>(x) & 0x7fffffffu;
}
inline float from_bits(uint32_t u) {
  return std::bit_cast<float>(u);
}

// The bits of max|w|; throws std::runtime_error when w holds a NaN or an infinity.
uint32_t max_magnitude_bits(std::span<const float> w);
// Throws the same error (for kernels that find non-finite values through a sum).
[[noreturn]] void throw_non_finite();

// ‖w − Q‖² and ‖w‖².
struct Errors {
  double error2 = 0;
  double norm2 = 0;
};

// q_i = value(w_i) for every i, measuring ‖w − q‖² and ‖w‖² on the way (q may alias w).
template <class V>
Errors write_projection(std::span<const float> w, std::span<float> q, V value) {
  const float* in = w.data();
  float* out = q.data();
  const Sums s = chunked_reduce<Sums>(static_cast<int64_t>(w.size()), [&](int64_t b, int64_t e) {
    float y[kBlock];
    return block_sums(b, e, [&](int64_t i, int64_t len, double* err, double* norm) {
      const V f = value;  // a local copy, as in chunked_sums
      // Two loops: fused, GCC turns the select in f into control flow and stays scalar.
      const float* src = in + i;
      for (int64_t j = 0; j < len; ++j) y[j] = f(src[j]);
      for (int64_t j = 0; j < len; ++j) {
        const double x = src[j];
        const double d = x - y[j];
        err[j] = d * d;
        norm[j] = x * x;
      }
      std::copy(y, y + len, out + i);  // after reading the block: q may be w
    });
  });
  if (!std::isfinite(s.b)) throw_non_finite();
  return {s.a, s.b};
}

// One tensor (or one row) projected: its α and errors.
struct TensorFit {
  float alpha = 0;
  Errors errors;
};

TensorFit project_binary_mean(std::span<const float> w, std::span<float> q);
TensorFit project_binary_median(std::span<const float> w, std::span<float> q);
TensorFit project_binary_noscale(std::span<const float> w, std::span<float> q);
TensorFit project_ternary_exact(std::span<const float> w, std::span<float> q);
// divide_by_n: α = Σ_{|w_i|>Δ}|w_i| / n (the reference code) instead of / #{|w_i| > Δ}.
TensorFit project_ternary_twn(std::span<const float> w, std::span<float> q, bool divide_by_n);
TensorFit project_bits(std::span<const float> w, std::span<float> q, int bits, int lloyd_iters);

}  // namespace qt::detail
