#include "engine/kernels/conv_im2col.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "engine/core/isa.h"
#include "engine/core/parallel.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/ordered_reduction.h"

// GCC 12's AVX-512 headers build several intrinsics on an "undefined" vector, which its
// -Wmaybe-uninitialized then reports at every use: a known false positive (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qt {

namespace {

// Columns aimed at per GEMM: enough for the kernel to run near its peak.
constexpr int64_t kTargetCols = 1024;
// At least this many chunks when the batch allows, so two threads (or more) stay busy.
constexpr int64_t kMinChunks = 4;

// d[0, n) = s[0, n). im2col copies rows as short as the output width (10 floats in LeNet-5's
// conv2), where a memcpy call costs more than the copy: on the AVX-512 path, masked 16-float
// moves.
QT_AVX512 void copy_row_avx512(float* d, const float* s, int64_t n) {
  for (; n >= 16; n -= 16, d += 16, s += 16) _mm512_storeu_ps(d, _mm512_loadu_ps(s));
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
  _mm512_mask_storeu_ps(d, m, _mm512_maskz_loadu_ps(m, s));
}

inline void copy_row(bool avx512, float* d, const float* s, int64_t n) {
  if (avx512)
    copy_row_avx512(d, s, n);
  else
    std::memcpy(d, s, n * sizeof(float));
}

struct Geometry {
  int64_t c, h, w, k, s, p, ho, wo;
  int64_t hw() const { return h * w; }
  int64_t howo() const { return ho * wo; }
  int64_t ckk() const { return c * k * k; }
};

Geometry geometry(const ConvShape& g) {
  return {g.cin, g.h, g.w, g.k, g.stride, g.pad, g.ho(), g.wo()};
}

// col[(c·k + a)·k + b, t·Ho·Wo + i·Wo + j] = x[t, c, i·s − p + a, j·s − p + b] (0 outside), for
// the `ns` samples starting at x; col has ns·Ho·Wo columns.
void im2col(const Geometry& g, const float* x, int64_t ns, float* col) {
  const int64_t cols = ns * g.howo();
  const bool avx512 = use_avx512();
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t a = 0; a < g.k; ++a)
      for (int64_t b = 0; b < g.k; ++b) {
        float* row = col + ((c * g.k + a) * g.k + b) * cols;
        // Output columns j whose input column j·s − p + b lies inside [0, W).
        const int64_t j0 = std::min(g.wo, std::max<int64_t>(0, (g.p - b + g.s - 1) / g.s));
        const int64_t j1 = std::max(j0, std::min(g.wo, (g.w - 1 + g.p - b) / g.s + 1));
        for (int64_t t = 0; t < ns; ++t) {
          const float* plane = x + (t * g.c + c) * g.hw();
          for (int64_t i = 0; i < g.ho; ++i) {
            float* dst = row + t * g.howo() + i * g.wo;
            const int64_t h = i * g.s - g.p + a;
            if (h < 0 || h >= g.h) {
              std::memset(dst, 0, g.wo * sizeof(float));
              continue;
            }
            const float* src = plane + h * g.w - g.p + b;
            for (int64_t j = 0; j < j0; ++j) dst[j] = 0.0f;
            if (g.s == 1)
              copy_row(avx512, dst + j0, src + j0, j1 - j0);
            else
              for (int64_t j = j0; j < j1; ++j) dst[j] = src[j * g.s];
            for (int64_t j = j1; j < g.wo; ++j) dst[j] = 0.0f;
          }
        }
      }
}

// The adjoint of im2col: dx[t, c, i·s − p + a, j·s − p + b] += col[(c·k + a)·k + b, …], dx zeroed
// first.
void col2im(const Geometry& g, const float* col, int64_t ns, float* dx) {
  const int64_t cols = ns * g.howo();
  std::memset(dx, 0, ns * g.c * g.hw() * sizeof(float));
  for (int64_t t = 0; t < ns; ++t)
    for (int64_t c = 0; c < g.c; ++c) {
      float* plane = dx + (t * g.c + c) * g.hw();
      for (int64_t a = 0; a < g.k; ++a)
        for (int64_t b = 0; b < g.k; ++b) {
          const float* row = col + ((c * g.k + a) * g.k + b) * cols + t * g.howo();
          const int64_t j0 = std::min(g.wo, std::max<int64_t>(0, (g.p - b + g.s - 1) / g.s));
          const int64_t j1 = std::max(j0, std::min(g.wo, (g.w - 1 + g.p - b) / g.s + 1));
          for (int64_t i = 0; i < g.ho; ++i) {
            const int64_t h = i * g.s - g.p + a;
            if (h < 0 || h >= g.h) continue;
            float* dst = plane + h * g.w - g.p + b;
            const float* src = row + i * g.wo;
            if (g.s == 1)
              for (int64_t j = j0; j < j1; ++j) dst[j] += src[j];
            else
              for (int64_t j = j0; j < j1; ++j) dst[j * g.s] += src[j];
          }
        }
    }
}

// Samples per chunk, from the shapes only (never the thread count): about kTargetCols GEMM columns,
// but at least kMinChunks chunks when the batch is large enough.
int64_t chunk_samples(int64_t n, int64_t howo) {
  int64_t ns = std::max<int64_t>(1, (kTargetCols + howo - 1) / howo);
  return std::max<int64_t>(1, std::min(ns, (n + kMinChunks - 1) / kMinChunks));
}

}  // namespace

// y[n, o] = W[o, :]·col_n + b[o]: per chunk, out[Cout × ns·HoWo] = W[Cout × CKK]·col[CKK × ns·HoWo]
void im2col_conv_forward(Workspace& ws, const ConvShape& shape, const float* x, const float* w,
                         const float* bias, float* y) {
  const Geometry g = geometry(shape);
  const int64_t n = shape.n, cin = shape.cin, howo = g.howo(), ckk = g.ckk(), cout = shape.cout;
  const bool pointwise = g.k == 1 && g.s == 1 && g.p == 0;
  const int64_t ns = chunk_samples(n, howo), chunks = (n + ns - 1) / ns;
  ws.prepare_tasks();
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t ch = c0; ch < c1; ++ch) {
      const int64_t n0 = ch * ns, m = std::min(n, n0 + ns) - n0, cols = m * howo;
      const float* xc = x + n0 * cin * g.hw();
      float* yc = y + n0 * cout * howo;
      if (pointwise || m == 1) {
        // One sample at a time straight into y: no gather, no scatter.
        float* col = pointwise ? nullptr : ws.task(ckk * howo);
        for (int64_t t = 0; t < m; ++t) {
          const float* b = xc + t * cin * g.hw();
          if (!pointwise) {
            im2col(g, b, 1, col);
            b = col;
          }
          float* yt = yc + t * cout * howo;
          if (bias)
            for (int64_t o = 0; o < cout; ++o)
              for (int64_t j = 0; j < howo; ++j) yt[o * howo + j] = bias[o];
          gemm(false, false, cout, howo, ckk, 1.0f, w, ckk, b, howo, bias ? 1.0f : 0.0f, yt, howo);
        }
        continue;
      }
      float* col = ws.task((ckk + cout) * cols);
      float* out = col + ckk * cols;
      im2col(g, xc, m, col);
      gemm(false, false, cout, cols, ckk, 1.0f, w, ckk, col, cols, 0.0f, out, cols);
      for (int64_t t = 0; t < m; ++t)
        for (int64_t o = 0; o < cout; ++o) {
          const float* src = out + o * cols + t * howo;
          float* dst = yc + (t * cout + o) * howo;
          const float bo = bias ? bias[o] : 0.0f;
          for (int64_t j = 0; j < howo; ++j) dst[j] = src[j] + bo;
        }
    }
  });
}

// Per chunk: dW_chunk = dY·colᵀ, db_chunk = Σ_cols dY, dcol = Wᵀ·dY then col2im into dx;
// dW and db are the chunk partials summed in chunk order (the same sum for every thread count).
void im2col_conv_backward(Workspace& ws, const ConvShape& shape, const float* x, const float* w,
                          const float* dy, float* dw_out, float* db_out, float* dx) {
  const Geometry g = geometry(shape);
  const int64_t n = shape.n, cin = shape.cin, howo = g.howo(), ckk = g.ckk(), cout = shape.cout;
  const int64_t wsize = cout * ckk;
  const bool pointwise = g.k == 1 && g.s == 1 && g.p == 0;
  const int64_t ns = chunk_samples(n, howo), chunks = (n + ns - 1) / ns;
  const bool weights = dw_out != nullptr;  // the chunks compute dW and db (else only dx)
  if (!weights && !dx) return;
  // Partial dW then partial db of every chunk.
  const int64_t part = wsize + cout;
  float* parts = ws.floats(chunks * part);
  ws.prepare_tasks();
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t ch = c0; ch < c1; ++ch) {
      const int64_t n0 = ch * ns, m = std::min(n, n0 + ns) - n0;
      const float* xc = x + n0 * cin * g.hw();
      const float* gc = dy + n0 * cout * howo;
      float* dxc = dx ? dx + n0 * cin * g.hw() : nullptr;
      float* dw = parts + ch * part;
      float* db = dw + wsize;
      if (weights)
        for (int64_t o = 0; o < cout; ++o) db[o] = 0.0f;
      if (pointwise || m == 1) {
        float* col = pointwise ? nullptr : ws.task(ckk * howo);
        for (int64_t t = 0; t < m; ++t) {
          const float* xt = xc + t * cin * g.hw();
          const float* gt = gc + t * cout * howo;
          const float* b = xt;
          if (weights && !pointwise) {
            im2col(g, xt, 1, col);
            b = col;
          }
          if (weights) {
            gemm(false, true, cout, ckk, howo, 1.0f, gt, howo, b, howo, t ? 1.0f : 0.0f, dw, ckk);
            for (int64_t o = 0; o < cout; ++o) db[o] += sum_in_lane_order(gt + o * howo, howo);
          }
          if (!dxc) continue;
          float* dxt = dxc + t * cin * g.hw();
          if (pointwise) {
            gemm(true, false, ckk, howo, cout, 1.0f, w, ckk, gt, howo, 0.0f, dxt, howo);
          } else {
            gemm(true, false, ckk, howo, cout, 1.0f, w, ckk, gt, howo, 0.0f, col, howo);
            col2im(g, col, 1, dxt);
          }
        }
        continue;
      }
      const int64_t cols = m * howo;
      float* col = ws.task((ckk + cout) * cols);
      float* gcol = col + ckk * cols;
      // dY of the chunk as [Cout × m·HoWo], the layout of the forward GEMM's output.
      for (int64_t t = 0; t < m; ++t)
        for (int64_t o = 0; o < cout; ++o)
          std::memcpy(gcol + o * cols + t * howo, gc + (t * cout + o) * howo, howo * sizeof(float));
      if (weights) {
        im2col(g, xc, m, col);
        gemm(false, true, cout, ckk, cols, 1.0f, gcol, cols, col, cols, 0.0f, dw, ckk);
        for (int64_t o = 0; o < cout; ++o) db[o] = sum_in_lane_order(gcol + o * cols, cols);
      }
      if (!dxc) continue;
      gemm(true, false, ckk, cols, cout, 1.0f, w, ckk, gcol, cols, 0.0f, col, cols);
      col2im(g, col, m, dxc);
    }
  });
  if (weights) sum_weight_partials(parts, chunks, wsize, cout, dw_out, db_out);
}

}  // namespace qt
