#include "engine/layers/max_pool2d.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "engine/core/isa.h"
#include "engine/core/parallel.h"

// GCC 12's AVX-512 headers build several intrinsics on an "undefined" vector, which its
// -Wmaybe-uninitialized then reports at every use: a known false positive (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qt {

MaxPool2d::MaxPool2d(std::string name, int64_t kernel, int64_t stride, int64_t padding)
    : Layer(std::move(name)), k_(kernel), s_(stride == 0 ? kernel : stride), p_(padding) {
  if (k_ < 1 || s_ < 1 || p_ < 0 || 2 * p_ > k_)
    throw std::invalid_argument(
        this->name() +
        ": max pooling needs kernel ≥ 1, stride ≥ 1 and 0 ≤ padding ≤ kernel/2, got " + describe());
}

std::string MaxPool2d::describe() const {
  return "MaxPool2d(k " + std::to_string(k_) + ", s " + std::to_string(s_) + ", p " +
         std::to_string(p_) + ")";
}

Shape MaxPool2d::output_shape(const Shape& in) const {
  if (in.size() != 4 || in[2] + 2 * p_ < k_ || in[3] + 2 * p_ < k_)
    throw std::invalid_argument(name() + ": expected (N, C, H, W) with H, W ≥ " +
                                std::to_string(k_ - 2 * p_) + ", got " + shape_str(in));
  return {in[0], in[1], (in[2] + 2 * p_ - k_) / s_ + 1, (in[3] + 2 * p_ - k_) / s_ + 1};
}

// The common 2×2 stride-2 case as branch-free selects over a row of windows. A candidate replaces
// the best so far if greater or NaN, scanning in row-major order.

// Replaces (best, at) by (v, v_at) where v > best or v is NaN.
QT_AVX512 static inline void take_avx512(__m512& best, __m512i& at, __m512 v, __m512i v_at) {
  const __mmask16 c =
      _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  best = _mm512_mask_mov_ps(best, c, v);
  at = _mm512_mask_mov_epi32(at, c, v_at);
}

// On the AVX-512 path, 16 windows at a time with masked loads and stores: rows as short as
// LeNet's (14 and 5 windows) stay vectorised, where the compiler's loop falls back to a branchy
// scalar tail that mispredicts on every other window.
QT_AVX512 static void pool_2x2_avx512(const float* xp, int64_t w, int64_t ho, int64_t wo, float* yp,
                                      int32_t* am) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t i = 0; i < ho; ++i) {
    const float* r0 = xp + 2 * i * w;
    const float* r1 = r0 + w;
    for (int64_t j0 = 0; j0 < wo; j0 += 16) {
      const int64_t n = std::min<int64_t>(16, wo - j0), n2 = 2 * n;
      const __mmask16 lo = n2 >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << n2) - 1);
      const __mmask16 hi =
          n2 >= 32 ? 0xFFFF : static_cast<__mmask16>((1u << std::max<int64_t>(n2 - 16, 0)) - 1);
      const float* a = r0 + 2 * j0;
      const float* b = r1 + 2 * j0;
      const __m512 a_lo = _mm512_maskz_loadu_ps(lo, a), a_hi = _mm512_maskz_loadu_ps(hi, a + 16);
      const __m512 b_lo = _mm512_maskz_loadu_ps(lo, b), b_hi = _mm512_maskz_loadu_ps(hi, b + 16);
      const __m512i at0 =
          _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(2 * i * w + 2 * j0)), even);
      const __m512i below = _mm512_set1_epi32(static_cast<int32_t>(w));
      __m512 best = _mm512_permutex2var_ps(a_lo, even, a_hi);
      __m512i at = at0;
      const __m512i one = _mm512_set1_epi32(1);
      take_avx512(best, at, _mm512_permutex2var_ps(a_lo, odd, a_hi), _mm512_add_epi32(at0, one));
      take_avx512(best, at, _mm512_permutex2var_ps(b_lo, even, b_hi), _mm512_add_epi32(at0, below));
      take_avx512(best, at, _mm512_permutex2var_ps(b_lo, odd, b_hi),
                  _mm512_add_epi32(_mm512_add_epi32(at0, below), one));
      const __mmask16 out = static_cast<__mmask16>((1u << n) - 1);
      _mm512_mask_storeu_ps(yp + i * wo + j0, out, best);
      _mm512_mask_storeu_epi32(am + i * wo + j0, out, at);
    }
  }
}

static void pool_2x2(const float* xp, int64_t w, int64_t ho, int64_t wo, float* yp, int32_t* am) {
  for (int64_t i = 0; i < ho; ++i) {
    const float* r0 = xp + 2 * i * w;
    const float* r1 = r0 + w;
    float* yr = yp + i * wo;
    int32_t* ar = am + i * wo;
    const int32_t base = static_cast<int32_t>(2 * i * w), below = static_cast<int32_t>(w);
    for (int64_t j = 0; j < wo; ++j) {
      const int32_t at0 = base + static_cast<int32_t>(2 * j);
      float best = r0[2 * j];
      int32_t at = at0;
      const float v1 = r0[2 * j + 1], v2 = r1[2 * j], v3 = r1[2 * j + 1];
      const bool c1 = v1 > best || v1 != v1;
      best = c1 ? v1 : best;
      at = c1 ? at0 + 1 : at;
      const bool c2 = v2 > best || v2 != v2;
      best = c2 ? v2 : best;
      at = c2 ? at0 + below : at;
      const bool c3 = v3 > best || v3 != v3;
      best = c3 ? v3 : best;
      at = c3 ? at0 + below + 1 : at;
      yr[j] = best;
      ar[j] = at;
    }
  }
}

// Any window: row by row of the output, tap by tap in row-major order, over the columns whose
// window lies inside the image a branch-free select per column (which vectorizes; a branch here
// mispredicts on every other tap of a feature map), and the clipped windows at the edges one by
// one.
static void pool_general(const float* xp, int64_t h, int64_t w, int64_t ho, int64_t wo, int64_t k,
                         int64_t s, int64_t p, float* yp, int32_t* am) {
  // columns j with 0 ≤ j·s − p and j·s − p + k ≤ w
  const int64_t jlo = std::min(wo, (p + s - 1) / s);
  const int64_t jhi = std::max(jlo, std::min(wo, w + p - k >= 0 ? (w + p - k) / s + 1 : 0));
  for (int64_t i = 0; i < ho; ++i) {
    const int64_t a0 = std::max<int64_t>(0, i * s - p), a1 = std::min(h, i * s - p + k);
    float* yr = yp + i * wo;
    int32_t* ar = am + i * wo;
    auto edge = [&](int64_t j) {
      const int64_t b0 = std::max<int64_t>(0, j * s - p), b1 = std::min(w, j * s - p + k);
      float best = -std::numeric_limits<float>::infinity();
      int64_t at = a0 * w + b0;
      for (int64_t a = a0; a < a1; ++a)
        for (int64_t b = b0; b < b1; ++b)
          if (xp[a * w + b] > best || std::isnan(xp[a * w + b])) {  // NaN wins, as in PyTorch
            best = xp[a * w + b];
            at = a * w + b;
          }
      yr[j] = xp[at];
      ar[j] = static_cast<int32_t>(at);
    };
    for (int64_t j = 0; j < jlo; ++j) edge(j);
    for (int64_t j = jhi; j < wo; ++j) edge(j);
    for (int64_t j = jlo; j < jhi; ++j) {
      yr[j] = -std::numeric_limits<float>::infinity();
      ar[j] = static_cast<int32_t>(a0 * w + j * s - p);
    }
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t b = 0; b < k; ++b) {
        const float* src = xp + a * w + b - p;
        const int32_t base = static_cast<int32_t>(a * w + b - p);
        for (int64_t j = jlo; j < jhi; ++j) {
          const float v = src[j * s];
          const bool take = v > yr[j] || v != v;
          yr[j] = take ? v : yr[j];
          ar[j] = take ? base + static_cast<int32_t>(j * s) : ar[j];
        }
      }
  }
}

// y[n, c, i, j] = max_{a, b < k} x[n, c, i·s − p + a, j·s − p + b]
void MaxPool2d::forward(const Tensor& x, Tensor& y, const Context&) {
  y.resize(output_shape(x.shape()));
  const int64_t h = x.dim(2), w = x.dim(3), ho = y.dim(2), wo = y.dim(3);
  const int64_t planes = x.dim(0) * x.dim(1);
  argmax_.resize(static_cast<size_t>(y.size()));
  const int64_t k = k_, s = s_, p = p_;
  const bool avx512 = use_avx512();
  parallel_for(planes, std::max<int64_t>(1, 16384 / (h * w)), [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl) {
      const float* xp = x.data() + pl * h * w;
      float* yp = y.data() + pl * ho * wo;
      int32_t* am = argmax_.data() + pl * ho * wo;
      if (k == 2 && s == 2 && p == 0) {
        if (avx512)
          pool_2x2_avx512(xp, w, ho, wo, yp, am);
        else
          pool_2x2(xp, w, ho, wo, yp, am);
        continue;
      }
      pool_general(xp, h, w, ho, wo, k, s, p, yp, am);
    }
  });
}

// dx[n, c, argmax(i, j)] += dy[n, c, i, j]
void MaxPool2d::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  const int64_t hw = x.dim(2) * x.dim(3), howo = y.dim(2) * y.dim(3);
  parallel_for(x.dim(0) * x.dim(1), std::max<int64_t>(1, 16384 / hw), [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl) {
      float* d = dx->data() + pl * hw;
      const float* g = dy.data() + pl * howo;
      const int32_t* am = argmax_.data() + pl * howo;
      for (int64_t i = 0; i < hw; ++i) d[i] = 0.0f;
      for (int64_t i = 0; i < howo; ++i) d[am[i]] += g[i];
    }
  });
}

}  // namespace qt
