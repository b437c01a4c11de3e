#include "engine/layers/direct_conv.h"

#include <tbb/enumerable_thread_specific.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/core/tensor.h"

#if defined(__AVX512F__)
// GCC 12's AVX-512 headers build several intrinsics on an "undefined" vector, which its
// -Wmaybe-uninitialized then reports at every use: a known false positive (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

namespace qt {

#if defined(__AVX512F__)

namespace {

constexpr int64_t kV = 16;    // floats per vector
constexpr int64_t kRows = 8;  // output rows (channels) per register block of the GEMM kernel
constexpr int64_t kGo = 8;    // dW register block: 8 output channels × 3 taps
constexpr int64_t kGt = 3;
constexpr int64_t kQBlock = 256;  // dW columns per pass (several samples' when images are small)
constexpr int64_t kGroups = 16;   // fixed groups of samples, each with a partial dW
constexpr int64_t kFront = 16;  // zeros before each plane copy: taps read up to p floats before it

int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

// Scratch of each worker (input copies, gradient grids, the dW lanes) and of the calling thread
// (packed weights, tap offsets, partial weight gradients). Shared by all layers, which run one at
// a time on a thread: the memory is that of the largest layer. Values never depend on which
// buffer is used.
tbb::enumerable_thread_specific<Tensor> g_task_scratch;
tbb::enumerable_thread_specific<Tensor> g_call_scratch;
tbb::enumerable_thread_specific<std::vector<int32_t>> g_offsets;

float* grow(tbb::enumerable_thread_specific<Tensor>& ets, int64_t n) {
  Tensor& t = ets.local();
  if (t.size() < n) t.resize({n});
  return t.data();
}

// One pass: `planes` input planes h × w with `pad` zero rows above and below, k copies of them
// (one per column offset), each plane copy ps floats long; outputs on ho rows of width w, of
// which `cols` (a multiple of kV) are computed.
struct Grid {
  int64_t h, w, k, pad, planes, ho, wo, cols, ps;
  Grid(int64_t h_, int64_t w_, int64_t pad_, int64_t k_, int64_t planes_)
      : h(h_),
        w(w_),
        k(k_),
        pad(pad_),
        planes(planes_),
        ho(h_ + 2 * pad_ - k_ + 1),
        wo(w_ + 2 * pad_ - k_ + 1) {
    cols = round_up(ho * w, kV);
    ps = round_up(kFront + (h + 2 * pad) * w + (cols - ho * w) + k + kV, kV);
  }
  // The output grid is the output planes themselves: no dropped columns, no tail.
  bool dense() const { return wo == w && cols == ho * w; }
  int64_t floats() const { return k * planes * ps; }
  // Tap (c, a, b) of output q reads copy b of plane c at q + offset.
  int32_t offset(int64_t c, int64_t a, int64_t b) const {
    return static_cast<int32_t>((b * planes + c) * ps + kFront + a * w + (b - pad));
  }
};

// The k copies of src (planes × h × w): copy b is the padded plane with the columns a read at
// column offset d = b − pad can wrap onto set to zero (last −d columns if d < 0, first d if d > 0).
void fill_copies(const Grid& g, const float* src, float* dst) {
  for (int64_t b = 0; b < g.k; ++b) {
    const int64_t d = b - g.pad, z0 = d < 0 ? g.w + d : 0, z1 = d < 0 ? g.w : d;
    for (int64_t c = 0; c < g.planes; ++c) {
      float* p = dst + (b * g.planes + c) * g.ps;
      std::memset(p, 0, g.ps * sizeof(float));
      float* rows = p + kFront + g.pad * g.w;
      std::memcpy(rows, src + c * g.h * g.w, g.h * g.w * sizeof(float));
      if (d != 0)
        for (int64_t r = 0; r < g.h; ++r)
          for (int64_t j = z0; j < z1; ++j) rows[r * g.w + j] = 0.0f;
    }
  }
}

// Tap offsets of the k×k kernel: off[(c·k + a)·k + b], then `zero_at` up to `count` (block
// padding).
void tap_offsets(const Grid& g, int64_t count, int32_t zero_at, int32_t* off) {
  for (int64_t t = 0; t < count; ++t) off[t] = zero_at;
  for (int64_t c = 0; c < g.planes; ++c)
    for (int64_t a = 0; a < g.k; ++a)
      for (int64_t b = 0; b < g.k; ++b) off[(c * g.k + a) * g.k + b] = g.offset(c, a, b);
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

// out[r][q] = bias[r] + Σ_t pack[t][r]·in[off[t] + q] for `rows` ≤ kRows rows and NV·kV columns.
template <int NV>
inline void block_nn(int64_t taps, const float* pack, const int32_t* off, const float* in,
                     float* out, int64_t ldo, int64_t rows, const float* bias) {
  __m512 acc[kRows][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    const __m512 b0 = _mm512_set1_ps(bias && r < rows ? bias[r] : 0.0f);
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = b0;
  }
  for (int64_t t = 0; t < taps; ++t) {
    const float* p = in + off[t];
    __m512 x[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) x[v] = _mm512_loadu_ps(p + v * kV);
    const float* wt = pack + t * kRows;
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m512 wv = _mm512_set1_ps(wt[r]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(wv, x[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
    if (r < rows)
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out + r * ldo + v * kV, acc[r][v]);
}

// out (m × cols, row stride ldo) = bias + pack · shift(in). Row blocks outermost: a block's packed
// weights (taps × kRows floats) stay in L1 while the columns stream past.
void shifted_gemm(int64_t m, int64_t taps, const float* pack, const int32_t* off, const float* in,
                  int64_t cols, float* out, int64_t ldo, const float* bias) {
  for (int64_t rb = 0; rb * kRows < m; ++rb) {
    const float* pk = pack + rb * taps * kRows;
    float* o = out + rb * kRows * ldo;
    const int64_t rows = std::min(kRows, m - rb * kRows);
    const float* b = bias ? bias + rb * kRows : nullptr;
    int64_t q = 0;
    for (; q + 3 * kV <= cols; q += 3 * kV) block_nn<3>(taps, pk, off, in + q, o + q, ldo, rows, b);
    if (cols - q == 2 * kV) block_nn<2>(taps, pk, off, in + q, o + q, ldo, rows, b);
    if (cols - q == kV) block_nn<1>(taps, pk, off, in + q, o + q, ldo, rows, b);
  }
}

// The valid part of an output grid: y[m][i][j] = out[m][i·w + j], j < wo.
void grid_to_planes(const Grid& g, const float* out, int64_t m, float* y) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t i = 0; i < g.ho; ++i)
      std::memcpy(y + (r * g.ho + i) * g.wo, out + r * g.cols + i * g.w, g.wo * sizeof(float));
}

// acc[i][j] += g_s[i][q]·x_s[off[j] + q] lane-wise over the samples s of a block, for kGo rows of
// g and kGt taps, columns [q0, q0 + n): 11 loads feed 24 FMAs. acc keeps 16-lane partial sums in
// memory, so successive passes keep adding to it and the lanes are summed once at the end.
inline void block_nt(int64_t ns, const float* const* g, int64_t ldg, const float* const* x,
                     const int32_t* off, int64_t q0, int64_t n, float* acc) {
  __m512 a[kGo][kGt];
#pragma GCC unroll 8
  for (int i = 0; i < kGo; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < kGt; ++j) a[i][j] = _mm512_loadu_ps(acc + (i * kGt + j) * kV);
  for (int64_t s = 0; s < ns; ++s) {
    const float* gs = g[s] + q0;
    const float* x0 = x[s] + off[0] + q0;
    const float* x1 = x[s] + off[1] + q0;
    const float* x2 = x[s] + off[2] + q0;
    for (int64_t q = 0; q < n; q += kV) {
      const __m512 v0 = _mm512_loadu_ps(x0 + q), v1 = _mm512_loadu_ps(x1 + q),
                   v2 = _mm512_loadu_ps(x2 + q);
#pragma GCC unroll 8
      for (int i = 0; i < kGo; ++i) {
        __m512 gv = _mm512_loadu_ps(gs + i * ldg + q);
        // Keeps gv in a register: GCC would otherwise fold the load into each of the three FMAs,
        // and 512-bit loads (one per cycle on Zen 4) would bound the loop.
        __asm__("" : "+v"(gv));
        a[i][0] = _mm512_fmadd_ps(gv, v0, a[i][0]);
        a[i][1] = _mm512_fmadd_ps(gv, v1, a[i][1]);
        a[i][2] = _mm512_fmadd_ps(gv, v2, a[i][2]);
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kGo; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < kGt; ++j) _mm512_storeu_ps(acc + (i * kGt + j) * kV, a[i][j]);
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

// r[i] = Σ_lanes v[i] for 16 vectors at once, in a fixed order of pairwise adds: within 128-bit
// blocks (unpack, then shuffle), then across blocks.
inline __m512 lane_sums16(const float* v) {
  __m512 s[8], t[4], u[2];
  for (int i = 0; i < 8; ++i) {
    const __m512 a = _mm512_loadu_ps(v + (2 * i) * kV), b = _mm512_loadu_ps(v + (2 * i + 1) * kV);
    s[i] = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  }
  for (int i = 0; i < 4; ++i)
    t[i] = _mm512_add_ps(_mm512_shuffle_ps(s[2 * i], s[2 * i + 1], 0x44),
                         _mm512_shuffle_ps(s[2 * i], s[2 * i + 1], 0xEE));
  for (int i = 0; i < 2; ++i)
    u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0x88),
                         _mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x88),
                       _mm512_shuffle_f32x4(u[0], u[1], 0xDD));
}

// Σ p[i] over a plane, by 16 lanes then lane_sum: vectorised, and the same for every split.
float plane_sum(const float* p, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + kV <= n; i += kV) acc = _mm512_add_ps(acc, _mm512_loadu_ps(p + i));
  float s = lane_sum(acc);
  for (; i < n; ++i) s += p[i];
  return s;
}

}  // namespace

bool direct_conv_available() {
  return true;
}

// y[o] = b[o] + Σ_{c,a,b} W[o, c, a, b]·x_b[c][q + a·W + b − p], one task per sample
void direct_conv_forward(const ConvStride1& cv, const float* x, const float* w, const float* bias,
                         float* y) {
  if (2 * cv.pad != cv.k - 1)
    throw std::invalid_argument("direct_conv_forward: needs padding (k − 1)/2, got " +
                                std::to_string(cv.pad) + " for k " + std::to_string(cv.k));
  const Grid g(cv.h, cv.w, cv.pad, cv.k, cv.cin);
  const int64_t taps = cv.cin * cv.k * cv.k, m_pad = round_up(cv.cout, kRows);
  float* pack = grow(g_call_scratch, m_pad * taps);
  pack_rows(
      cv.cout, taps, [&](int64_t o, int64_t t) { return w[o * taps + t]; }, pack);
  std::vector<int32_t>& off = g_offsets.local();
  off.resize(static_cast<size_t>(taps));
  tap_offsets(g, taps, 0, off.data());
  const int32_t* offp = off.data();
  parallel_for(cv.n, 1, [&](int64_t n0, int64_t n1) {
    float* xin = grow(g_task_scratch, g.floats() + (g.dense() ? 0 : cv.cout * g.cols));
    float* tmp = xin + g.floats();
    for (int64_t s = n0; s < n1; ++s) {
      fill_copies(g, x + s * cv.cin * cv.h * cv.w, xin);
      float* ys = y + s * cv.cout * g.ho * g.wo;
      if (g.dense()) {
        shifted_gemm(cv.cout, taps, pack, offp, xin, g.cols, ys, g.cols, bias);
      } else {
        shifted_gemm(cv.cout, taps, pack, offp, xin, g.cols, tmp, g.cols, bias);
        grid_to_planes(g, tmp, cv.cout, ys);
      }
    }
  });
}

// dW[o][t] = Σ_{n,q} dy[o][q]·x_t[q] over fixed groups of samples (partials summed in group order);
// dx[c] = Σ_{o,a,b} W[o, c, k−1−a, k−1−b]·dy_b[o][q + a·W + b − (k−1−p)]
void direct_conv_backward(const ConvStride1& cv, const float* x, const float* w, const float* dy,
                          float* dw, float* db, float* dx) {
  if (2 * cv.pad != cv.k - 1)
    throw std::invalid_argument("direct_conv_backward: needs padding (k − 1)/2, got " +
                                std::to_string(cv.pad) + " for k " + std::to_string(cv.k));
  const Grid gx(cv.h, cv.w, cv.pad, cv.k, cv.cin);                // x: the forward pass
  const Grid gd(gx.ho, gx.wo, cv.k - 1 - cv.pad, cv.k, cv.cout);  // dy padded for dx
  const int64_t taps = cv.cin * cv.k * cv.k, taps3 = round_up(taps, kGt);
  const int64_t m8 = round_up(cv.cout, kGo), wsize = cv.cout * taps, dtaps = cv.cout * cv.k * cv.k;
  const int64_t groups = std::min(std::max<int64_t>(cv.n, 1), kGroups);
  const int64_t part = wsize + cv.cout, lanes = m8 * taps3 * kV;
  // dy is its own dW operand when it already has the grid's layout and whole blocks of channels.
  const bool dy_is_grid = gx.dense() && cv.cout % kGo == 0;
  // Samples per dW pass: enough for 2·kQBlock columns when images are small.
  const int64_t sb =
      std::clamp<int64_t>(2 * kQBlock / gx.cols, 1, std::max<int64_t>(cv.n / groups, 1));
  const int64_t xfloats = gx.floats() + gx.cols + kV;  // the copies, then a zero region

  float* pack = grow(g_call_scratch, (dx ? round_up(cv.cin, kRows) * dtaps : 0) + groups * part);
  float* parts = pack + (dx ? round_up(cv.cin, kRows) * dtaps : 0);
  if (dx)
    pack_rows(
        cv.cin, dtaps,
        [&](int64_t c, int64_t t) {
          const int64_t o = t / (cv.k * cv.k), a = t / cv.k % cv.k, b = t % cv.k;
          return w[((o * cv.cin + c) * cv.k + (cv.k - 1 - a)) * cv.k + (cv.k - 1 - b)];
        },
        pack);
  std::vector<int32_t>& off = g_offsets.local();
  off.resize(static_cast<size_t>(taps3 + dtaps));
  tap_offsets(gx, taps3, static_cast<int32_t>(gx.floats()), off.data());
  tap_offsets(gd, dtaps, 0, off.data() + taps3);
  const int32_t* xoff = off.data();
  const int32_t* doff = off.data() + taps3;

  parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
    const int64_t grid_floats = dy_is_grid ? 0 : sb * m8 * gx.cols;
    float* acc = grow(g_task_scratch, lanes + sb * xfloats + grid_floats + gd.floats() +
                                          (gd.dense() ? 0 : cv.cin * gd.cols));
    float* xin = acc + lanes;
    float* grid = xin + sb * xfloats;
    float* dyin = grid + grid_floats;
    float* tmp = dyin + gd.floats();
    const float* gptr[2 * kQBlock];
    const float* xptr[2 * kQBlock];
    for (int64_t grp = g0; grp < g1; ++grp) {
      float* pw = parts + grp * part;
      std::memset(pw, 0, part * sizeof(float));
      std::memset(acc, 0, lanes * sizeof(float));
      const int64_t s_end = (grp + 1) * cv.n / groups;
      for (int64_t s0 = grp * cv.n / groups; s0 < s_end; s0 += sb) {
        const int64_t cn = std::min(sb, s_end - s0);
        for (int64_t s = 0; s < cn; ++s) {
          const float* dys = dy + (s0 + s) * cv.cout * gx.ho * gx.wo;
          float* xs = xin + s * xfloats;
          fill_copies(gx, x + (s0 + s) * cv.cin * cv.h * cv.w, xs);
          std::memset(xs + gx.floats(), 0, (gx.cols + kV) * sizeof(float));
          for (int64_t o = 0; o < cv.cout; ++o)
            pw[wsize + o] += plane_sum(dys + o * gx.ho * gx.wo, gx.ho * gx.wo);
          xptr[s] = xs;
          if (dy_is_grid) {
            gptr[s] = dys;
            continue;
          }
          // dy on the grid: zero at the dropped columns, the tail and the rows ≥ Cout.
          float* gs = grid + s * m8 * gx.cols;
          std::memset(gs, 0, m8 * gx.cols * sizeof(float));
          for (int64_t o = 0; o < cv.cout; ++o)
            for (int64_t i = 0; i < gx.ho; ++i)
              std::memcpy(gs + o * gx.cols + i * gx.w, dys + (o * gx.ho + i) * gx.wo,
                          gx.wo * sizeof(float));
          gptr[s] = gs;
        }
        // dW lanes: per block of columns, every (8 channels × 3 taps) block.
        const int64_t qb = cn == 1 ? kQBlock : gx.cols;
        for (int64_t q0 = 0; q0 < gx.cols; q0 += qb) {
          const int64_t n = std::min(qb, gx.cols - q0);
          for (int64_t o0 = 0; o0 < m8; o0 += kGo) {
            const float* g8[2 * kQBlock];
            for (int64_t s = 0; s < cn; ++s) g8[s] = gptr[s] + o0 * gx.cols;
            for (int64_t t0 = 0; t0 < taps3; t0 += kGt)
              block_nt(cn, g8, gx.cols, xptr, xoff + t0, q0, n, acc + (o0 * taps3 + t0 * kGo) * kV);
          }
        }
        if (!dx) continue;
        for (int64_t s = s0; s < s0 + cn; ++s) {
          fill_copies(gd, dy + s * cv.cout * gx.ho * gx.wo, dyin);
          float* dxs = dx + s * cv.cin * cv.h * cv.w;
          if (gd.dense()) {
            shifted_gemm(cv.cin, dtaps, pack, doff, dyin, gd.cols, dxs, gd.cols, nullptr);
          } else {
            shifted_gemm(cv.cin, dtaps, pack, doff, dyin, gd.cols, tmp, gd.cols, nullptr);
            grid_to_planes(gd, tmp, cv.cin, dxs);
          }
        }
      }
      // Sum the lanes of every entry, 16 entries at a time, in acc order (blocks of 8 channels ×
      // 3 taps), into the front of acc itself, then place them at pw[o·taps + t].
      const int64_t entries = m8 * taps3;
      int64_t e0 = 0;
      for (; e0 + kV <= entries; e0 += kV) _mm512_storeu_ps(acc + e0, lane_sums16(acc + e0 * kV));
      for (; e0 < entries; ++e0) acc[e0] = lane_sum(_mm512_loadu_ps(acc + e0 * kV));
      const float* sums = acc;
      for (int64_t o0 = 0; o0 < m8; o0 += kGo)
        for (int64_t t0 = 0; t0 < taps3; t0 += kGt)
          for (int64_t i = 0; i < kGo; ++i)
            for (int64_t j = 0; j < kGt; ++j, ++sums)
              if (o0 + i < cv.cout && t0 + j < taps) pw[(o0 + i) * taps + t0 + j] = *sums;
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

bool direct_conv_available() {
  return false;
}

void direct_conv_forward(const ConvStride1&, const float*, const float*, const float*, float*) {
  throw std::logic_error("direct_conv_forward: built without AVX-512");
}

void direct_conv_backward(const ConvStride1&, const float*, const float*, const float*, float*,
                          float*, float*) {
  throw std::logic_error("direct_conv_backward: built without AVX-512");
}

#endif

}  // namespace qt
