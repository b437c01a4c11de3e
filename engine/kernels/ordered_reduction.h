#pragma once
// The one place where qtrain promises the same bits for every thread count: every sum that spans
// the split of the work is taken in an order fixed by the sizes alone. The order is a parameter
// of the caller (chunk size, lane count, how lanes fold), never of the thread count; changing a
// caller's parameter changes its results, so each caller keeps the one it was measured with.
//
//   chunked_reduce<T>(n, chunk, fn)   fixed chunks of `chunk` elements, fn(begin, end) for each
//                                     (in parallel), the partials added in chunk order
//   sum_pieces(parts, ...)            element-wise sums of per-piece partials, in piece order
//                                     (the pieces: fixed groups of samples of a convolution)
//   Lanes<T, L>                       L interleaved accumulators (element i to lane i % L), added
//                                     in lane order: the vectorised form of a sequential sum
//   float_lanes16(p, n)               16 running float lanes over whole blocks of 16, folded in
//                                     lane order (sum_in_lane_order) or pairwise (sum_pairwise),
//                                     the tail after them; as double lanes across planes
//                                     (DoubleLanes16), BatchNorm's statistics
#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/kernels/simd.h"

namespace qt {

// One chunk, kept out of line: inlined into TBB's task body, GCC leaves the element loops of
// some callers scalar and branchy (3-5× slower); here it vectorizes them.
template <class T, class Fn>
[[gnu::noinline]] T reduce_chunk(const Fn& fn, int64_t b, int64_t e) {
  return fn(b, e);
}

// Σ_c fn(c·chunk, min(n, (c + 1)·chunk)) over the chunks, in chunk order (T needs += and a zero
// T{}). One chunk: fn(0, n) itself.
template <class T, class Fn>
T chunked_reduce(int64_t n, int64_t chunk, const Fn& fn) {
  const int64_t chunks = (n + chunk - 1) / chunk;
  if (chunks <= 1) return n > 0 ? reduce_chunk<T>(fn, 0, n) : T{};
  std::vector<T> part(chunks);
  parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      part[c] = reduce_chunk<T>(fn, c * chunk, std::min(n, (c + 1) * chunk));
  });
  T total{};
  for (const T& p : part) total += p;
  return total;
}

// out[e] = Σ_p parts[p·stride + e] for e in [0, count), pieces in order from the first (the sums
// split over e: the same for every thread count).
inline void sum_pieces(const float* parts, int64_t pieces, int64_t stride, int64_t count,
                       float* out) {
  parallel_for(count, 4096, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      float s = parts[e];
      for (int64_t p = 1; p < pieces; ++p) s += parts[p * stride + e];
      out[e] = s;
    }
  });
}

// The weight-gradient sums of the convolutions that split a batch into fixed pieces (im2col's
// chunks, the direct kernels' groups of samples), each piece holding its partial dW then db
// (wsize + Cout floats). db may be null (no bias).
inline void sum_weight_partials(const float* parts, int64_t pieces, int64_t wsize, int64_t cout,
                                float* dw, float* db) {
  const int64_t part = wsize + cout;
  sum_pieces(parts, pieces, part, wsize, dw);
  if (db) sum_pieces(parts + wsize, pieces, part, cout, db);
}

// L accumulators of type T: add(len, term) adds term(j) for j in [0, len) to lane j % L (len
// counted from a multiple of L); total() adds the lanes in lane order.
template <class T, int L>
struct Lanes {
  T lane[L] = {};
  template <class Term>
  void add(int64_t len, Term&& term) {
    int64_t j = 0;
    for (; j + L <= len; j += L)
      for (int l = 0; l < L; ++l) lane[l] += term(j + l);
    for (int l = 0; j < len; ++j, ++l) lane[l] += term(j);
  }
  T total() const {
    T s{};
    for (int l = 0; l < L; ++l) s += lane[l];
    return s;
  }
};

// 16 running float lanes over p[0, n): lane l = Σ_b p[16b + l] over the whole blocks b, in block
// order, as lanes 0–7 (lo) and 8–15 (hi); `tail` = the first index after the last whole block.
struct FloatLanes16 {
  F8 lo = {}, hi = {};
  int64_t tail = 0;
};

inline FloatLanes16 float_lanes16(const float* p, int64_t n) {
  FloatLanes16 r;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    r.lo += load8(p + i);
    r.hi += load8(p + i + 8);
  }
  r.tail = i;
  return r;
}

// Σ p[i]: the lanes added from lane 0 to 15, then the tail in index order.
inline float sum_in_lane_order(const float* p, int64_t n) {
  const FloatLanes16 r = float_lanes16(p, n);
  float s = 0.0f;
  for (int l = 0; l < 8; ++l) s += r.lo[l];
  for (int l = 0; l < 8; ++l) s += r.hi[l];
  for (int64_t i = r.tail; i < n; ++i) s += p[i];
  return s;
}

// The 16 lanes t[0, 16) folded in halves: t[i] += t[i + 8], then + 4, + 2, + 1; returns t[0].
inline float fold_pairwise16(float* t) {
  for (int w = 8; w > 0; w /= 2)
    for (int i = 0; i < w; ++i) t[i] += t[i + w];
  return t[0];
}

// Σ p[i]: the lanes folded pairwise, then the tail in index order.
inline float sum_pairwise(const float* p, int64_t n) {
  const FloatLanes16 r = float_lanes16(p, n);
  float t[16];
  for (int l = 0; l < 8; ++l) {
    t[l] = r.lo[l];
    t[8 + l] = r.hi[l];
  }
  float s = fold_pairwise16(t);
  for (int64_t i = r.tail; i < n; ++i) s += p[i];
  return s;
}

// 16 double lanes that collect float lanes plane after plane (each plane's whole blocks into
// float lanes first, then converted and added here), and the values beyond each plane's last
// whole block in `tail`; total() adds the lanes in lane order, then the tail.
struct DoubleLanes16 {
  D4 d[4] = {};  // lanes 0–3, 4–7, 8–11, 12–15
  double tail = 0.0;
  // Adds float lanes 0–7 (lo) and 8–15 (hi).
  void add(F8 lo, F8 hi) {
    d[0] += __builtin_convertvector(__builtin_shufflevector(lo, lo, 0, 1, 2, 3), D4);
    d[1] += __builtin_convertvector(__builtin_shufflevector(lo, lo, 4, 5, 6, 7), D4);
    d[2] += __builtin_convertvector(__builtin_shufflevector(hi, hi, 0, 1, 2, 3), D4);
    d[3] += __builtin_convertvector(__builtin_shufflevector(hi, hi, 4, 5, 6, 7), D4);
  }
  double total() const {
    double s = 0.0;
    for (int q = 0; q < 4; ++q)
      for (int l = 0; l < 4; ++l) s += d[q][l];
    return s + tail;
  }
};

}  // namespace qt
