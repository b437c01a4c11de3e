#include "engine/layers/direct_conv.h"

#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/core/tensor.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace qt {

#if defined(__AVX512F__)

namespace {

constexpr int64_t kV = 16;         // floats per vector
constexpr int64_t kCols = 2 * kV;  // output columns per register block
constexpr int64_t kRows = 8;       // output rows (channels) per register block of the forward kernel
constexpr int64_t kTaps = 4;       // dW kernel block: 4 output channels × 4 taps
// A chunk of samples for dW holds its padded inputs and gradient grids in about this many floats
// (an L2 cache's worth), and at most kGroups groups of chunks keep a partial dW each.
constexpr int64_t kChunkFloats = int64_t{1} << 17;
constexpr int64_t kGroups = 16;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Scratch of each worker (padded planes, output grids) and of the calling thread (packed weights,
// tap offsets, partial weight gradients). Shared by all layers, which run one at a time on a
// thread: the memory is that of the largest layer. Values never depend on which buffer is used.
tbb::enumerable_thread_specific<Tensor> g_task_scratch;
tbb::enumerable_thread_specific<Tensor> g_call_scratch;
tbb::enumerable_thread_specific<std::vector<int32_t>> g_offsets;

float* grow(tbb::enumerable_thread_specific<Tensor>& ets, int64_t n) {
  Tensor& t = ets.local();
  if (t.size() < n) t.resize({n});
  return t.data();
}

// The padded grid of one pass: planes hp × wp stored ps floats apart (ps leaves zero slack for the
// taps of the last computed columns); outputs on the first ho rows, `cols` columns computed.
struct Grid {
  int64_t hp, wp, ho, wo, k, pad, cols, ps;
  Grid(int64_t h, int64_t w, int64_t pad_, int64_t k_)
      : hp(h + 2 * pad_), wp(w + 2 * pad_), ho(hp - k_ + 1), wo(wp - k_ + 1), k(k_), pad(pad_) {
    cols = round_up(ho * wp, kCols);
    ps = round_up(hp * wp + (cols - ho * wp) + k - 1, kV);
  }
};

// dst[c] = src plane c (h × w) zero-padded onto the grid, slack zeroed.
void pad_planes(const Grid& g, const float* src, int64_t planes, int64_t h, int64_t w, float* dst) {
  for (int64_t c = 0; c < planes; ++c) {
    float* d = dst + c * g.ps;
    std::memset(d, 0, g.ps * sizeof(float));
    for (int64_t r = 0; r < h; ++r) std::memcpy(d + (r + g.pad) * g.wp + g.pad, src + (c * h + r) * w, w * sizeof(float));
  }
}

// Tap offsets of a k×k kernel over `planes` planes of grid g: off[(c·k + a)·k + b] = c·ps + a·wp + b,
// and `zero_at` for the entries up to `count` (taps that pad a block).
void tap_offsets(const Grid& g, int64_t planes, int64_t count, int32_t zero_at, int32_t* off) {
  for (int64_t t = 0; t < count; ++t) off[t] = zero_at;
  for (int64_t c = 0; c < planes; ++c)
    for (int64_t a = 0; a < g.k; ++a)
      for (int64_t b = 0; b < g.k; ++b)
        off[(c * g.k + a) * g.k + b] = static_cast<int32_t>(c * g.ps + a * g.wp + b);
}

// Weights as blocks of kRows output rows: pack[rb][t][r] = w(rb·kRows + r, t), zero beyond m rows.
template <class At>
void pack_rows(int64_t m, int64_t taps, At at, float* pack) {
  const int64_t blocks = (m + kRows - 1) / kRows;
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t rb = b0; rb < b1; ++rb)
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t r = 0; r < kRows; ++r) {
          const int64_t row = rb * kRows + r;
          pack[(rb * taps + t) * kRows + r] = row < m ? at(row, t) : 0.0f;
        }
  });
}

// out[r][q] = Σ_t pack[t][r]·in[off[t] + q] for kRows rows and kCols columns.
inline void block_nn(int64_t taps, const float* pack, const int32_t* off, const float* in, float* out, int64_t ldo) {
  __m512 acc[kRows][2];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t t = 0; t < taps; ++t) {
    const float* p = in + off[t];
    const __m512 x0 = _mm512_loadu_ps(p), x1 = _mm512_loadu_ps(p + kV);
    const float* wt = pack + t * kRows;
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m512 wv = _mm512_set1_ps(wt[r]);
      acc[r][0] = _mm512_fmadd_ps(wv, x0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(wv, x1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    _mm512_storeu_ps(out + r * ldo, acc[r][0]);
    _mm512_storeu_ps(out + r * ldo + kV, acc[r][1]);
  }
}

// out (m_pad × cols) = pack · shift(in), m_pad a multiple of kRows.
void shifted_gemm(int64_t m_pad, int64_t taps, const float* pack, const int32_t* off, const float* in, int64_t cols,
                  float* out) {
  for (int64_t q = 0; q < cols; q += kCols)
    for (int64_t rb = 0; rb < m_pad / kRows; ++rb)
      block_nn(taps, pack + rb * taps * kRows, off, in + q, out + rb * kRows * cols + q, cols);
}

// acc[i][j] += Σ_q g[i][q]·in[off[j] + q] for kTaps rows of g and kTaps taps, over `cols` columns.
inline void block_nt(const float* g, int64_t ldg, const float* in, const int32_t* off, int64_t cols,
                     __m512 (&acc)[kTaps][kTaps]) {
  const float* x0 = in + off[0];
  const float* x1 = in + off[1];
  const float* x2 = in + off[2];
  const float* x3 = in + off[3];
  for (int64_t q = 0; q < cols; q += kV) {
    const __m512 v0 = _mm512_loadu_ps(x0 + q), v1 = _mm512_loadu_ps(x1 + q);
    const __m512 v2 = _mm512_loadu_ps(x2 + q), v3 = _mm512_loadu_ps(x3 + q);
#pragma GCC unroll 4
    for (int i = 0; i < kTaps; ++i) {
      const __m512 gv = _mm512_loadu_ps(g + i * ldg + q);
      acc[i][0] = _mm512_fmadd_ps(gv, v0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(gv, v1, acc[i][1]);
      acc[i][2] = _mm512_fmadd_ps(gv, v2, acc[i][2]);
      acc[i][3] = _mm512_fmadd_ps(gv, v3, acc[i][3]);
    }
  }
}

// Σ of the 16 lanes in a fixed pairwise order (_mm512_reduce_add_ps trips GCC 12's
// -Wmaybe-uninitialized inside its own header).
inline float lane_sum(__m512 v) {
  alignas(64) float t[kV];
  _mm512_store_ps(t, v);
  for (int64_t w = kV / 2; w > 0; w /= 2)
    for (int64_t i = 0; i < w; ++i) t[i] += t[i + w];
  return t[0];
}

// The output grid's valid part, plus bias: y[m][i][j] = out[m][i·wp + j] + b[m].
void grid_to_planes(const Grid& g, const float* out, int64_t m, const float* bias, float* y) {
  for (int64_t r = 0; r < m; ++r) {
    const float b = bias ? bias[r] : 0.0f;
    for (int64_t i = 0; i < g.ho; ++i) {
      const float* src = out + r * g.cols + i * g.wp;
      float* dst = y + (r * g.ho + i) * g.wo;
      for (int64_t j = 0; j < g.wo; ++j) dst[j] = src[j] + b;
    }
  }
}

}  // namespace

bool direct_conv_available() { return true; }

// y[o] = Σ_{c,a,b} W[o, c, a, b]·x_pad[c][q + a·Wp + b] + b[o], one task per sample
void direct_conv_forward(const ConvStride1& cv, const float* x, const float* w, const float* bias, float* y) {
  const Grid g(cv.h, cv.w, cv.pad, cv.k);
  const int64_t taps = cv.cin * cv.k * cv.k, m_pad = round_up(cv.cout, kRows);
  float* pack = grow(g_call_scratch, m_pad * taps);
  pack_rows(cv.cout, taps, [&](int64_t o, int64_t t) { return w[o * taps + t]; }, pack);
  std::vector<int32_t>& off = g_offsets.local();
  off.resize(static_cast<size_t>(taps));
  tap_offsets(g, cv.cin, taps, 0, off.data());
  const int32_t* offp = off.data();
  parallel_for(cv.n, 1, [&](int64_t n0, int64_t n1) {
    float* xin = grow(g_task_scratch, cv.cin * g.ps + m_pad * g.cols);
    float* out = xin + cv.cin * g.ps;
    for (int64_t s = n0; s < n1; ++s) {
      pad_planes(g, x + s * cv.cin * cv.h * cv.w, cv.cin, cv.h, cv.w, xin);
      shifted_gemm(m_pad, taps, pack, offp, xin, g.cols, out);
      grid_to_planes(g, out, cv.cout, bias, y + s * cv.cout * g.ho * g.wo);
    }
  });
}

// dW[o][t] = Σ_{n,q} dy_grid[o][q]·x_pad[q + off[t]] (groups of chunks, partials summed in order);
// dx[c] = Σ_{o,a,b} W[o, c, k−1−a, k−1−b]·dy_pad[o][q + a·Wp' + b]
void direct_conv_backward(const ConvStride1& cv, const float* x, const float* w, const float* dy, float* dw,
                          float* db, float* dx) {
  if (dx && cv.pad > cv.k - 1)
    throw std::invalid_argument("direct_conv_backward: padding " + std::to_string(cv.pad) + " exceeds kernel − 1");
  const Grid gx(cv.h, cv.w, cv.pad, cv.k);                 // x padded: the forward grid
  const Grid gd(gx.ho, gx.wo, cv.k - 1 - cv.pad, cv.k);    // dy padded for dx
  const int64_t taps = cv.cin * cv.k * cv.k, taps4 = round_up(taps, kTaps);
  const int64_t m4 = round_up(cv.cout, kTaps), wsize = cv.cout * taps;
  const int64_t dtaps = cv.cout * cv.k * cv.k, cin_pad = round_up(cv.cin, kRows);
  // A chunk: ns samples' padded inputs, dy grids and a zero region for the taps beyond `taps`.
  const int64_t per_sample = cv.cin * gx.ps + m4 * gx.cols;
  const int64_t ns = std::clamp<int64_t>(kChunkFloats / per_sample, 1, std::max<int64_t>(cv.n, 1));
  const int64_t chunks = (cv.n + ns - 1) / ns, groups = std::min(chunks, kGroups);
  const int64_t part = wsize + cv.cout;

  float* pack = grow(g_call_scratch, (dx ? cin_pad * dtaps : 0) + groups * part);
  float* parts = pack + (dx ? cin_pad * dtaps : 0);
  if (dx)
    pack_rows(cv.cin, dtaps, [&](int64_t c, int64_t t) {
      const int64_t o = t / (cv.k * cv.k), a = t / cv.k % cv.k, b = t % cv.k;
      return w[((o * cv.cin + c) * cv.k + (cv.k - 1 - a)) * cv.k + (cv.k - 1 - b)];
    }, pack);
  std::vector<int32_t>& off = g_offsets.local();
  const int32_t zero_at = static_cast<int32_t>(ns * cv.cin * gx.ps);  // the zero region of a chunk
  off.resize(static_cast<size_t>(taps4 + dtaps));
  tap_offsets(gx, cv.cin, taps4, zero_at, off.data());
  tap_offsets(gd, cv.cout, dtaps, 0, off.data() + taps4);
  const int32_t* xoff = off.data();
  const int32_t* doff = off.data() + taps4;

  parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
    const int64_t xfloats = ns * cv.cin * gx.ps + gx.cols + kV;
    float* xin = grow(g_task_scratch, xfloats + ns * m4 * gx.cols + cv.cout * gd.ps + cin_pad * gd.cols);
    float* grid = xin + xfloats;
    float* dyin = grid + ns * m4 * gx.cols;
    float* dxout = dyin + cv.cout * gd.ps;
    for (int64_t grp = g0; grp < g1; ++grp) {
      float* pw = parts + grp * part;
      std::memset(pw, 0, part * sizeof(float));
      for (int64_t ch = grp * chunks / groups; ch < (grp + 1) * chunks / groups; ++ch) {
        const int64_t s0 = ch * ns, cn = std::min(ns, cv.n - s0);
        // The chunk: padded inputs, then dy on the output grid (zero at dropped columns and rows ≥ Cout).
        std::memset(xin + ns * cv.cin * gx.ps, 0, (gx.cols + kV) * sizeof(float));
        std::memset(grid, 0, ns * m4 * gx.cols * sizeof(float));
        for (int64_t s = 0; s < ns; ++s) {
          if (s < cn) {
            pad_planes(gx, x + (s0 + s) * cv.cin * cv.h * cv.w, cv.cin, cv.h, cv.w, xin + s * cv.cin * gx.ps);
          } else {
            std::memset(xin + s * cv.cin * gx.ps, 0, cv.cin * gx.ps * sizeof(float));
            continue;
          }
          for (int64_t o = 0; o < cv.cout; ++o) {
            const float* src = dy + ((s0 + s) * cv.cout + o) * gx.ho * gx.wo;
            float* dst = grid + (s * m4 + o) * gx.cols;
            float sum = 0.0f;
            for (int64_t i = 0; i < gx.ho; ++i)
              for (int64_t j = 0; j < gx.wo; ++j) {
                dst[i * gx.wp + j] = src[i * gx.wo + j];
                sum += src[i * gx.wo + j];
              }
            pw[wsize + o] += sum;
          }
        }
        // dW partial: blocks of 4 output channels × 4 taps over every sample of the chunk.
        for (int64_t o0 = 0; o0 < m4; o0 += kTaps)
          for (int64_t t0 = 0; t0 < taps4; t0 += kTaps) {
            __m512 acc[kTaps][kTaps];
            for (auto& row : acc)
              for (auto& a : row) a = _mm512_setzero_ps();
            for (int64_t s = 0; s < cn; ++s) {
              int32_t o4[kTaps];
              for (int j = 0; j < kTaps; ++j)
                o4[j] = xoff[t0 + j] == zero_at ? zero_at : static_cast<int32_t>(xoff[t0 + j] + s * cv.cin * gx.ps);
              block_nt(grid + (s * m4 + o0) * gx.cols, gx.cols, xin, o4, gx.cols, acc);
            }
            for (int i = 0; i < kTaps && o0 + i < cv.cout; ++i)
              for (int j = 0; j < kTaps && t0 + j < taps; ++j) pw[(o0 + i) * taps + t0 + j] += lane_sum(acc[i][j]);
          }
        if (!dx) continue;
        for (int64_t s = 0; s < cn; ++s) {
          pad_planes(gd, dy + (s0 + s) * cv.cout * gx.ho * gx.wo, cv.cout, gx.ho, gx.wo, dyin);
          shifted_gemm(cin_pad, dtaps, pack, doff, dyin, gd.cols, dxout);
          grid_to_planes(gd, dxout, cv.cin, nullptr, dx + (s0 + s) * cv.cin * cv.h * cv.w);
        }
      }
    }
  });
  // dW, db = Σ_group partials, in group order, split over the elements.
  parallel_for(part, 4096, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      float s = parts[e];
      for (int64_t grp = 1; grp < groups; ++grp) s += parts[grp * part + e];
      if (e < wsize)
        dw[e] = s;
      else if (db)
        db[e - wsize] = s;
    }
  });
}

#else  // no AVX-512: Conv2d uses im2col instead

bool direct_conv_available() { return false; }

void direct_conv_forward(const ConvStride1&, const float*, const float*, const float*, float*) {
  throw std::logic_error("direct_conv_forward: built without AVX-512");
}

void direct_conv_backward(const ConvStride1&, const float*, const float*, const float*, float*, float*, float*) {
  throw std::logic_error("direct_conv_backward: built without AVX-512");
}

#endif

}  // namespace qt
