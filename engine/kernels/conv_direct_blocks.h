#pragma once
// The AVX-512 kernels of the direct convolutions (direct_conv.cpp: stride 1, direct_conv_s2.cpp:
// stride 2), shared by both: a GEMM whose right operand is a set of shifted views of plane copies
// (block_nn, shifted_gemm), the dW inner products over pixels (summed in registers over a group of
// samples, or kept as 16-lane partial sums across passes: block_nt_sums, block_nt) with the group
// loop of both backward passes (dw_groups), and the fixed-order lane sums that make results
// independent of the thread count.
// Internal to engine/kernels: include only from those two files. Everything here is compiled for
// AVX-512 (QT_AVX512_BEGIN, engine/core/isa.h) and may run only on the AVX-512 kernel path.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/core/isa.h"
#include "engine/core/parallel.h"
#include "engine/core/tensor.h"
#include "engine/kernels/ordered_reduction.h"
#include "engine/kernels/workspace.h"

// GCC 12's AVX-512 headers build several intrinsics on an "undefined" vector, which its
// -Wmaybe-uninitialized (at -O2 -Wuninitialized) then reports at every use: a known false positive
// (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

QT_AVX512_BEGIN

namespace qt::direct {

constexpr int64_t kV = 16;    // floats per vector
constexpr int64_t kRows = 8;  // output rows (channels) per register block of the GEMM kernel
constexpr int64_t kGo = 8;    // dW register block: 8 output channels × 3 taps
constexpr int64_t kGt = 3;
constexpr int64_t kQBlock = 256;  // dW columns per pass (several samples' when images are small)
constexpr int64_t kGroups = 16;   // fixed groups of samples, each with a partial dW
constexpr int64_t kFront = 16;  // zeros before each plane copy: taps read up to p floats before it

inline int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
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
inline void shifted_gemm(int64_t m, int64_t taps, const float* pack, const int32_t* off,
                         const float* in, int64_t cols, float* out, int64_t ldo,
                         const float* bias) {
  for (int64_t rb = 0; rb * kRows < m; ++rb) {
    const float* pk = pack + rb * taps * kRows;
    float* o = out + rb * kRows * ldo;
    const int64_t rows = std::min(kRows, m - rb * kRows);
    const float* b = bias ? bias + rb * kRows : nullptr;
    // Blocks of 3 vectors, then 2s: a lone 1-vector block (8 broadcasts for 8 FMAs) is taken
    // only when the row is one vector, so 4 vectors (8×8 planes) go as 2 + 2, not 3 + 1.
    const int64_t nv = cols / kV, tail = nv % 3 == 1 && nv > 1 ? 4 : nv % 3;
    int64_t q = 0;
    for (; q < (nv - tail) * kV; q += 3 * kV)
      block_nn<3>(taps, pk, off, in + q, o + q, ldo, rows, b);
    for (; q + 2 * kV <= cols; q += 2 * kV) block_nn<2>(taps, pk, off, in + q, o + q, ldo, rows, b);
    if (q < cols) block_nn<1>(taps, pk, off, in + q, o + q, ldo, rows, b);
  }
}

// a[i][j] += g_s[i][q]·x_s[off[j] + q] lane-wise over the samples s of a block, for kGo rows of g
// and kGt taps, columns [q0, q0 + n): 11 loads feed 24 FMAs.
__attribute__((always_inline)) inline void nt_core(__m512 (&a)[kGo][kGt], int64_t ns,
                                                   const float* const* g, int64_t ldg,
                                                   const float* const* x, const int32_t* off,
                                                   int64_t q0, int64_t n) {
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
}

// nt_core on partial sums kept in memory (acc, 16 lanes per entry), so that successive passes
// keep adding to them and the lanes are summed once at the end (lanes_to_dw).
inline void block_nt(int64_t ns, const float* const* g, int64_t ldg, const float* const* x,
                     const int32_t* off, int64_t q0, int64_t n, float* acc) {
  __m512 a[kGo][kGt];
#pragma GCC unroll 8
  for (int i = 0; i < kGo; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < kGt; ++j) a[i][j] = _mm512_loadu_ps(acc + (i * kGt + j) * kV);
  nt_core(a, ns, g, ldg, x, off, q0, n);
#pragma GCC unroll 8
  for (int i = 0; i < kGo; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < kGt; ++j) _mm512_storeu_ps(acc + (i * kGt + j) * kV, a[i][j]);
}

// Σ of the 16 lanes in a fixed pairwise order (fold_pairwise16; _mm512_reduce_add_ps trips GCC
// 12's -Wmaybe-uninitialized inside its own header).
inline float lane_sum(__m512 v) {
  alignas(64) float t[kV];
  _mm512_store_ps(t, v);
  return fold_pairwise16(t);
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

// The dW lanes of a group, acc[(o0·taps3 + t0·kGo) + (i·kGt + j)][16] for blocks of kGo channels
// × kGt taps, summed entry by entry (16 entries at a time, in acc order, into the front of acc
// itself) and placed at pw[o·taps + t] for the real channels and taps.
inline void lanes_to_dw(float* acc, int64_t m8, int64_t taps3, int64_t cout, int64_t taps,
                        float* pw) {
  const int64_t entries = m8 * taps3;
  int64_t e0 = 0;
  for (; e0 + kV <= entries; e0 += kV) _mm512_storeu_ps(acc + e0, lane_sums16(acc + e0 * kV));
  for (; e0 < entries; ++e0) acc[e0] = lane_sum(_mm512_loadu_ps(acc + e0 * kV));
  const float* sums = acc;
  for (int64_t o0 = 0; o0 < m8; o0 += kGo)
    for (int64_t t0 = 0; t0 < taps3; t0 += kGt)
      for (int64_t i = 0; i < kGo; ++i)
        for (int64_t j = 0; j < kGt; ++j, ++sums)
          if (o0 + i < cout && t0 + j < taps) pw[(o0 + i) * taps + t0 + j] = *sums;
}

// The lane sums of 8 vectors, in lane_sums16's order (each sum is (b0 + b1) + (b2 + b3) over its
// 128-bit blocks, each block's (l0 + l2) + (l1 + l3)), kept in registers.
__attribute__((always_inline)) inline __m256 lane_sums8(const __m512* v) {
  __m512 s[4], t[2];
  for (int i = 0; i < 4; ++i)
    s[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                         _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  for (int i = 0; i < 2; ++i)
    t[i] = _mm512_add_ps(_mm512_shuffle_ps(s[2 * i], s[2 * i + 1], 0x44),
                         _mm512_shuffle_ps(s[2 * i], s[2 * i + 1], 0xEE));
  const __m512 u =
      _mm512_add_ps(_mm512_shuffle_f32x4(t[0], t[1], 0x88), _mm512_shuffle_f32x4(t[0], t[1], 0xDD));
  // u's blocks: (b0 + b1, b2 + b3) of vectors 0–3, then of 4–7.
  const __m512 w = _mm512_add_ps(u, _mm512_shuffle_f32x4(u, u, 0xB1));
  return _mm512_castps512_ps256(_mm512_shuffle_f32x4(w, w, 0x08));
}

// nt_core from zero over a whole group in one call, its kGo × kGt entries summed over their lanes
// at once (the order of lane_sums16) into sums[i·kGt + j]: no partial sums in memory.
inline void block_nt_sums(int64_t ns, const float* const* g, int64_t ldg, const float* const* x,
                          const int32_t* off, int64_t n, float* sums) {
  __m512 a[kGo][kGt];
#pragma GCC unroll 8
  for (int i = 0; i < kGo; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < kGt; ++j) a[i][j] = _mm512_setzero_ps();
  nt_core(a, ns, g, ldg, x, off, 0, n);
  const __m512* e = &a[0][0];
#pragma GCC unroll 3
  for (int r = 0; r < kGo * kGt / 8; ++r) _mm256_storeu_ps(sums + 8 * r, lane_sums8(e + 8 * r));
}

// Whether a group's dW takes one pass summed in registers rather than passes into 16-lane partial
// sums kept in memory: while what one (kGo channels × kGt taps) block streams over the whole group
// (its dy rows and input columns for every sample) stays in L2. Faster on every CIFAR and MNIST
// layer (ResNet-20's 64-channel layers: dW 1.6× faster, the lanes alone being 2.4 MB); planes
// as large as ImageNet's 56×56 keep the passes over 256-column blocks.
inline bool dw_one_pass(int64_t n, int64_t groups, int64_t cols) {
  const int64_t samples = (n + groups - 1) / groups;
  return samples <= 64 && samples * cols * (kGo + kGt) * int64_t{sizeof(float)} <= (512 << 10);
}

// The dW of one pass over ns samples: g[s] is sample s's dy on the output grid (rows ≥ Cout zero,
// up to m8), x[s] its input copies, read at the tap offsets xoff (taps3 of them, padded to kGt).
// Either into the group's 16-lane partial sums `acc` (passes of a few samples, the lanes summed by
// lanes_to_dw after the last one), or, when `pw` is given (the pass is the whole group), summed
// block by block in registers straight into pw[o·taps + t]: partial sums in memory cost more than
// the arithmetic once Cin·Cout grows (ResNet-20's 64 × 64 layers: 2.4 MB of lanes per group).
inline void dw_pass(int64_t ns, const float* const* g, const float* const* x, const int32_t* xoff,
                    int64_t cols, int64_t m8, int64_t taps3, int64_t cout, int64_t taps, float* acc,
                    float* pw) {
  const float* g8[2 * kQBlock];
  if (pw) {
    // Taps outermost: the three taps' columns stay in L1 while the channel blocks pass.
    float sums[kGo * kGt];
    for (int64_t t0 = 0; t0 < taps3; t0 += kGt)
      for (int64_t o0 = 0; o0 < m8; o0 += kGo) {
        for (int64_t s = 0; s < ns; ++s) g8[s] = g[s] + o0 * cols;
        block_nt_sums(ns, g8, cols, x, xoff + t0, cols, sums);
        for (int64_t i = 0; i < kGo && o0 + i < cout; ++i)
          for (int64_t j = 0; j < kGt && t0 + j < taps; ++j)
            pw[(o0 + i) * taps + t0 + j] = sums[i * kGt + j];
      }
    return;
  }
  const int64_t qb = ns == 1 ? kQBlock : cols;
  for (int64_t q0 = 0; q0 < cols; q0 += qb) {
    const int64_t n = std::min(qb, cols - q0);
    for (int64_t o0 = 0; o0 < m8; o0 += kGo) {
      for (int64_t s = 0; s < ns; ++s) g8[s] = g[s] + o0 * cols;
      for (int64_t t0 = 0; t0 < taps3; t0 += kGt)
        block_nt(ns, g8, cols, x, xoff + t0, q0, n, acc + (o0 * taps3 + t0 * kGo) * kV);
    }
  }
}

// The weight-gradient plan of a backward pass: fixed groups of samples (from the shapes only, so
// results never depend on the thread count), each with its partial dW and db (`part` floats),
// taken in passes of up to sb samples: one pass a group when dw_one_pass holds, else passes of
// about 2·kQBlock columns into the group's 16-lane partial sums.
struct DwPlan {
  int64_t n, cols, cout, taps, m8, taps3, groups, sb;
  bool one_pass;
  DwPlan(int64_t n_, int64_t cols_, int64_t cout_, int64_t taps_)
      : n(n_),
        cols(cols_),
        cout(cout_),
        taps(taps_),
        m8(round_up(cout_, kGo)),
        taps3(round_up(taps_, kGt)),
        groups(std::min(std::max<int64_t>(n_, 1), kGroups)) {
    one_pass = dw_one_pass(n, groups, cols);
    sb = one_pass ? (n + groups - 1) / groups
                  : std::clamp<int64_t>(2 * kQBlock / cols, 1, std::max<int64_t>(n / groups, 1));
  }
  int64_t part() const { return cout * taps + cout; }
  int64_t lanes() const { return one_pass ? 0 : m8 * taps3 * kV; }
};

// The group loop of both direct backward passes, groups in parallel: for each pass,
// sample(s, slot, db, scratch, g, x) readies sample s in pass slot `slot` (its input copies in the
// task's `scratch`, g and x its dW operands for dw_pass) and adds its db into db[0, Cout); then
// the pass's dW; then dx_of(s, scratch) for each of its samples. Each task has `scratch` floats
// of its own after the lanes, from the workspace.
template <class Sample, class Dx>
void dw_groups(Workspace& ws, const DwPlan& p, const int32_t* xoff, float* parts, int64_t scratch,
               Sample sample, Dx dx_of) {
  ws.prepare_tasks();
  parallel_for(p.groups, 1, [&](int64_t g0, int64_t g1) {
    float* acc = ws.task(p.lanes() + scratch);
    float* mine = acc + p.lanes();
    const float* gptr[2 * kQBlock];
    const float* xptr[2 * kQBlock];
    for (int64_t grp = g0; grp < g1; ++grp) {
      float* pw = parts + grp * p.part();
      std::memset(pw, 0, p.part() * sizeof(float));
      std::memset(acc, 0, p.lanes() * sizeof(float));
      const int64_t s_end = (grp + 1) * p.n / p.groups;
      for (int64_t s0 = grp * p.n / p.groups; s0 < s_end; s0 += p.sb) {
        const int64_t cn = std::min(p.sb, s_end - s0);
        for (int64_t s = 0; s < cn; ++s)
          sample(s0 + s, s, pw + p.cout * p.taps, mine, gptr[s], xptr[s]);
        dw_pass(cn, gptr, xptr, xoff, p.cols, p.m8, p.taps3, p.cout, p.taps, acc,
                p.one_pass ? pw : nullptr);
        for (int64_t s = s0; s < s0 + cn; ++s) dx_of(s, mine);
      }
      if (!p.one_pass) lanes_to_dw(acc, p.m8, p.taps3, p.cout, p.taps, pw);
    }
  });
}

}  // namespace qt::direct

QT_AVX512_END
