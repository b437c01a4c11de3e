#include "engine/kernels/conv_winograd.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/kernels/gemm.h"
#include "engine/kernels/ordered_reduction.h"

#if defined(__AVX2__)
// GCC 12's AVX-512 headers build several intrinsics on an "undefined" vector, which its
// -Wmaybe-uninitialized then reports at every use: a known false positive (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

namespace qt {

namespace {

// Transformed tensors of one chunk of samples stay below this many floats (a share of the L3
// cache); the chunk size depends on the shapes only.
constexpr int64_t kChunkFloats = int64_t{1} << 22;

struct Tiles {
  int64_t th, tw;  // 2×2 output tiles per column and per row
  explicit Tiles(const ConvShape& g) : th((g.ho() + 1) / 2), tw((g.wo() + 1) / 2) {}
  int64_t per_image() const { return th * tw; }
  int64_t padded_width() const { return 2 * tw + 2; }  // input columns under a row of tiles
  int64_t padded_height() const { return 2 * th + 2; }
};

int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(work_per_item, 1));
}

// U[ξ][o][c] = (G g[o, c] Gᵀ)[ξ],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
void transform_weights(const float* w, int64_t cout, int64_t cin, float* u) {
  const int64_t oc = cout * cin;
  parallel_for(oc, 1024, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* g = w + i * 9;
      float t[4][3];
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
      }
      for (int r = 0; r < 4; ++r) {
        u[(r * 4 + 0) * oc + i] = t[r][0];
        u[(r * 4 + 1) * oc + i] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
        u[(r * 4 + 2) * oc + i] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
        u[(r * 4 + 3) * oc + i] = t[r][2];
      }
    }
  });
}

// dg = Gᵀ dU G, the adjoint of transform_weights: dw[o, c] from dU[ξ][o][c].
void untransform_weights(const float* du, int64_t cout, int64_t cin, float* dw) {
  const int64_t oc = cout * cin;
  parallel_for(oc, 1024, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      float h[3][4];
      for (int j = 0; j < 4; ++j) {
        const float u0 = du[(0 * 4 + j) * oc + i], u1 = du[(1 * 4 + j) * oc + i];
        const float u2 = du[(2 * 4 + j) * oc + i], u3 = du[(3 * 4 + j) * oc + i];
        h[0][j] = u0 + 0.5f * (u1 + u2);
        h[1][j] = 0.5f * (u1 - u2);
        h[2][j] = 0.5f * (u1 + u2) + u3;
      }
      float* g = dw + i * 9;
      for (int r = 0; r < 3; ++r) {
        g[r * 3 + 0] = h[r][0] + 0.5f * (h[r][1] + h[r][2]);
        g[r * 3 + 1] = 0.5f * (h[r][1] - h[r][2]);
        g[r * 3 + 2] = 0.5f * (h[r][1] + h[r][2]) + h[r][3];
      }
    }
  });
}

// The transforms work on blocks of kLanes consecutive columns t of one channel's row (tiles of
// consecutive samples): the values a block needs are gathered through precomputed offsets, so every
// arithmetic loop runs over kLanes lanes and vectorises whatever the image size.
constexpr int kLanes = 16;

// dst[l] = base[offset[l]] for the kLanes lanes of a block: 32-bit-index gathers (the compiler's
// own vectorisation sign-extends the offsets and gathers in 64-bit halves), one of 16 lanes when
// the build's baseline has AVX-512 (native), else two of 8.
inline void gather(const float* base, const int32_t* offset, float* dst) {
  static_assert(kLanes == 16);
#if defined(__AVX512F__)
  // (The masked form: the plain one trips GCC 12's -Wmaybe-uninitialized inside its header.)
  _mm512_storeu_ps(dst, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF,
                                                 _mm512_loadu_si512(offset), base, 4));
#elif defined(__AVX2__)
  for (int h = 0; h < kLanes; h += 8)
    _mm256_storeu_ps(
        dst + h, _mm256_i32gather_ps(
                     base, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offset + h)), 4));
#else
  for (int l = 0; l < kLanes; ++l) dst[l] = base[offset[l]];
#endif
}

// For column t = s·per + tile: offset[t] = s·stride + 2ti·width + 2tj, the corner of its window in
// a buffer of planes `width` wide holding the chunk's samples `stride` floats apart. Entries past
// the end repeat the last column, so a partial block reads valid memory.
void tile_offsets(const Tiles& tl, int64_t ns, int64_t width, int64_t stride, int32_t* offset) {
  const int64_t per = tl.per_image(), big_t = ns * per;
  for (int64_t t = 0; t < big_t + kLanes; ++t) {
    const int64_t tt = std::min(t, big_t - 1), s = tt / per, tile = tt % per;
    offset[t] = static_cast<int32_t>(s * stride + 2 * (tile / tl.tw) * width + 2 * (tile % tl.tw));
  }
}

// xp[s][c] = x[s][c] zero-padded to hp × wp.
void pad_chunk(const ConvShape& g, const Tiles& tl, const float* x, int64_t ns, float* xp) {
  const int64_t wp = tl.padded_width(), plane = tl.padded_height() * wp;
  parallel_for(ns * g.cin, grain_for(plane), [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl) {
      float* d = xp + pl * plane;
      std::memset(d, 0, plane * sizeof(float));
      for (int64_t r = 0; r < g.h; ++r)
        std::memcpy(d + (r + g.pad) * wp + g.pad, x + (pl * g.h + r) * g.w, g.w * sizeof(float));
    }
  });
}

// V[ξ][c][t] = (Bᵀ d B)[ξ] for the 4×4 input tile d under output tile t,
// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]; t runs over (sample, tile row, tile column).
void transform_input(const ConvShape& g, const Tiles& tl, const float* xp, const int32_t* off,
                     int64_t big_t, float* v) {
  const int64_t wp = tl.padded_width(), plane = tl.padded_height() * wp, xi = g.cin * big_t;
  parallel_for(g.cin, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const float* base = xp + c * plane;
      float* out = v + c * big_t;
      for (int64_t t0 = 0; t0 < big_t; t0 += kLanes) {
        const int32_t* o = off + t0;
        float d[16][kLanes], t[16][kLanes];
        for (int k = 0; k < 16; ++k) {
          gather(base + (k / 4) * wp + k % 4, o, d[k]);
        }
        for (int j = 0; j < 4; ++j)  // Bᵀ d: down the columns
          for (int l = 0; l < kLanes; ++l) {
            t[0 + j][l] = d[0 + j][l] - d[8 + j][l];
            t[4 + j][l] = d[4 + j][l] + d[8 + j][l];
            t[8 + j][l] = d[8 + j][l] - d[4 + j][l];
            t[12 + j][l] = d[4 + j][l] - d[12 + j][l];
          }
        for (int i = 0; i < 4; ++i)  // (Bᵀ d) B: along the rows
          for (int l = 0; l < kLanes; ++l) {
            d[4 * i + 0][l] = t[4 * i + 0][l] - t[4 * i + 2][l];
            d[4 * i + 1][l] = t[4 * i + 1][l] + t[4 * i + 2][l];
            d[4 * i + 2][l] = t[4 * i + 2][l] - t[4 * i + 1][l];
            d[4 * i + 3][l] = t[4 * i + 1][l] - t[4 * i + 3][l];
          }
        const int64_t lanes = std::min<int64_t>(kLanes, big_t - t0);
        for (int k = 0; k < 16; ++k) std::memcpy(out + k * xi + t0, d[k], lanes * sizeof(float));
      }
    }
  });
}

// dxp[s][c] += B dV[·][c][t] Bᵀ at tile t's 4×4 window of the padded plane (the adjoint of
// transform_input), B = [1 0 0 0; 0 1 −1 1; −1 1 1 0; 0 0 0 −1]. Windows overlap, so each channel
// is accumulated by one task, in column order; dxp starts zeroed.
void untransform_input(const ConvShape& g, const Tiles& tl, const float* dv, const int32_t* off,
                       int64_t big_t, float* dxp) {
  const int64_t wp = tl.padded_width(), plane = tl.padded_height() * wp, xi = g.cin * big_t;
  parallel_for(g.cin, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* base = dxp + c * plane;
      const float* in = dv + c * big_t;
      for (int64_t t0 = 0; t0 < big_t; t0 += kLanes) {
        const int64_t lanes = std::min<int64_t>(kLanes, big_t - t0);
        float m[16][kLanes] = {}, r[16][kLanes];
        for (int k = 0; k < 16; ++k) std::memcpy(m[k], in + k * xi + t0, lanes * sizeof(float));
        for (int j = 0; j < 4; ++j)  // B dV: down the columns
          for (int l = 0; l < kLanes; ++l) {
            r[0 + j][l] = m[0 + j][l];
            r[4 + j][l] = m[4 + j][l] - m[8 + j][l] + m[12 + j][l];
            r[8 + j][l] = m[4 + j][l] + m[8 + j][l] - m[0 + j][l];
            r[12 + j][l] = -m[12 + j][l];
          }
        for (int i = 0; i < 4; ++i)  // (B dV) Bᵀ: along the rows
          for (int l = 0; l < kLanes; ++l) {
            m[4 * i + 0][l] = r[4 * i + 0][l];
            m[4 * i + 1][l] = r[4 * i + 1][l] - r[4 * i + 2][l] + r[4 * i + 3][l];
            m[4 * i + 2][l] = r[4 * i + 1][l] + r[4 * i + 2][l] - r[4 * i + 0][l];
            m[4 * i + 3][l] = -r[4 * i + 3][l];
          }
        const int32_t* o = off + t0;
        for (int k = 0; k < 16; ++k) {
          float* b = base + (k / 4) * wp + k % 4;
          for (int64_t l = 0; l < lanes; ++l) b[o[l]] += m[k][l];
        }
      }
    }
  });
}

// The inner part of the padded planes: x[s][c] = xp[s][c][p .. p + H][p .. p + W].
void unpad_chunk(const ConvShape& g, const Tiles& tl, const float* xp, int64_t ns, float* x) {
  const int64_t wp = tl.padded_width(), plane = tl.padded_height() * wp;
  parallel_for(ns * g.cin, grain_for(plane), [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl)
      for (int64_t r = 0; r < g.h; ++r)
        std::memcpy(x + (pl * g.h + r) * g.w, xp + pl * plane + (r + g.pad) * wp + g.pad,
                    g.w * sizeof(float));
  });
}

// yt[s][o] (planes 2th × 2tw) = Aᵀ M[·][o][t] A + b[o] at each tile,  Aᵀ = [1 1 1 0; 0 1 −1 −1].
void untransform_output(const ConvShape& g, const Tiles& tl, const float* mt, const int32_t* off,
                        int64_t big_t, const float* bias, float* yt) {
  const int64_t w2 = 2 * tl.tw, plane = 2 * tl.th * w2, xi = g.cout * big_t;
  parallel_for(g.cout, 1, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float bo = bias ? bias[o] : 0.0f;
      const float* in = mt + o * big_t;
      float* base = yt + o * plane;
      for (int64_t t0 = 0; t0 < big_t; t0 += kLanes) {
        const int64_t lanes = std::min<int64_t>(kLanes, big_t - t0);
        float m[16][kLanes] = {}, a[8][kLanes], yv[4][kLanes];
        for (int k = 0; k < 16; ++k) std::memcpy(m[k], in + k * xi + t0, lanes * sizeof(float));
        for (int j = 0; j < 4; ++j)  // Aᵀ M: down the columns
          for (int l = 0; l < kLanes; ++l) {
            a[j][l] = m[j][l] + m[4 + j][l] + m[8 + j][l];
            a[4 + j][l] = m[4 + j][l] - m[8 + j][l] - m[12 + j][l];
          }
        for (int i = 0; i < 2; ++i)  // (Aᵀ M) A: along the rows
          for (int l = 0; l < kLanes; ++l) {
            yv[2 * i][l] = a[4 * i][l] + a[4 * i + 1][l] + a[4 * i + 2][l] + bo;
            yv[2 * i + 1][l] = a[4 * i + 1][l] - a[4 * i + 2][l] - a[4 * i + 3][l] + bo;
          }
        const int32_t* og = off + t0;
        for (int k = 0; k < 4; ++k) {
          float* b = base + (k / 2) * w2 + k % 2;
          for (int64_t l = 0; l < lanes; ++l) b[og[l]] = yv[k][l];
        }
      }
    }
  });
}

// Between the output planes (Ho × Wo) and the same planes rounded up to whole tiles (zero-filled).
void tiles_to_planes(const ConvShape& g, const Tiles& tl, const float* yt, int64_t ns, float* y) {
  const int64_t w2 = 2 * tl.tw, plane = 2 * tl.th * w2, ho = g.ho(), wo = g.wo();
  parallel_for(ns * g.cout, grain_for(plane), [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl)
      for (int64_t r = 0; r < ho; ++r)
        std::memcpy(y + (pl * ho + r) * wo, yt + pl * plane + r * w2, wo * sizeof(float));
  });
}

// Also db_part[s·Cout + o] = Σ dy over the plane.
void planes_to_tiles(const ConvShape& g, const Tiles& tl, const float* dy, int64_t ns, float* yt,
                     float* db_part) {
  const int64_t w2 = 2 * tl.tw, plane = 2 * tl.th * w2, ho = g.ho(), wo = g.wo();
  parallel_for(ns * g.cout, grain_for(plane), [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl) {
      const float* src = dy + pl * ho * wo;
      db_part[pl] = sum_in_lane_order(src, ho * wo);
      float* d = yt + pl * plane;
      std::memset(d, 0, plane * sizeof(float));
      for (int64_t r = 0; r < ho; ++r) std::memcpy(d + r * w2, src + r * wo, wo * sizeof(float));
    }
  });
}

// dM[ξ][o][t] = (A dy_t Aᵀ)[ξ] for the 2×2 tile of dy (the adjoint of untransform_output),
// A = [1 0; 1 1; 1 −1; 0 −1]; dy comes rounded up to whole tiles with zeros.
void transform_grad(const ConvShape& g, const Tiles& tl, const float* yt, const int32_t* off,
                    int64_t big_t, float* dm) {
  const int64_t w2 = 2 * tl.tw, plane = 2 * tl.th * w2, xi = g.cout * big_t;
  parallel_for(g.cout, 1, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* base = yt + o * plane;
      float* out = dm + o * big_t;
      for (int64_t t0 = 0; t0 < big_t; t0 += kLanes) {
        const int32_t* og = off + t0;
        float yv[4][kLanes], e[8][kLanes], d[16][kLanes];
        for (int k = 0; k < 4; ++k) {
          gather(base + (k / 2) * w2 + k % 2, og, yv[k]);
        }
        for (int j = 0; j < 2; ++j)  // A dy: down the columns, (u, v) → (u, u + v, u − v, −v)
          for (int l = 0; l < kLanes; ++l) {
            e[j][l] = yv[j][l];
            e[2 + j][l] = yv[j][l] + yv[2 + j][l];
            e[4 + j][l] = yv[j][l] - yv[2 + j][l];
            e[6 + j][l] = -yv[2 + j][l];
          }
        for (int r = 0; r < 4; ++r)  // (A dy) Aᵀ: along the rows
          for (int l = 0; l < kLanes; ++l) {
            d[4 * r + 0][l] = e[2 * r][l];
            d[4 * r + 1][l] = e[2 * r][l] + e[2 * r + 1][l];
            d[4 * r + 2][l] = e[2 * r][l] - e[2 * r + 1][l];
            d[4 * r + 3][l] = -e[2 * r + 1][l];
          }
        const int64_t lanes = std::min<int64_t>(kLanes, big_t - t0);
        for (int k = 0; k < 16; ++k) std::memcpy(out + k * xi + t0, d[k], lanes * sizeof(float));
      }
    }
  });
}

// Samples per chunk: as many as the scratch budget allows (at least one).
int64_t chunk_samples(const ConvShape& g, const Tiles& tl) {
  const int64_t per_sample = 16 * tl.per_image() * (2 * g.cin + g.cout) +
                             g.cin * tl.padded_height() * tl.padded_width() +
                             g.cout * 4 * tl.per_image();
  const int64_t n = std::max<int64_t>(g.n, 1),
                most = std::clamp<int64_t>(kChunkFloats / per_sample, 1, n);
  const int64_t chunks = (n + most - 1) / most;
  return (n + chunks - 1) / chunks;  // equal chunks: no small last one
}

}  // namespace

// y = Aᵀ[Σ_c U[·][o][c] ⊙ V[·][c][t]]A + b: per ξ, M[ξ] (Cout × T) = U[ξ] (Cout × Cin)·V[ξ] (Cin ×
// T)
void winograd_forward(Workspace& ws, const ConvShape& g, const float* x, const float* w,
                      const float* bias, float* y) {
  const Tiles tl(g);
  const int64_t ns = chunk_samples(g, tl), per = tl.per_image(), ucount = 16 * g.cout * g.cin;
  const int64_t xplane = tl.padded_height() * tl.padded_width(), yplane = 4 * per;
  const int64_t big_t = ns * per;
  float* u =
      ws.floats(ucount + 16 * big_t * (g.cin + g.cout) + ns * (g.cin * xplane + g.cout * yplane));
  float* v = u + ucount;
  float* m = v + 16 * g.cin * big_t;
  float* xp = m + 16 * g.cout * big_t;
  float* yt = xp + ns * g.cin * xplane;
  // Offsets into the padded input planes (hp × wp) and into the output planes rounded up to whole
  // tiles (2th × 2tw), for the chunk being processed.
  int32_t* off_in = ws.offsets(2 * (big_t + kLanes));
  int32_t* off_out = off_in + big_t + kLanes;
  transform_weights(w, g.cout, g.cin, u);
  for (int64_t n0 = 0; n0 < g.n; n0 += ns) {
    const int64_t cn = std::min(ns, g.n - n0), t = cn * per;
    tile_offsets(tl, cn, tl.padded_width(), g.cin * xplane, off_in);
    tile_offsets(tl, cn, 2 * tl.tw, g.cout * yplane, off_out);
    pad_chunk(g, tl, x + n0 * g.cin * g.h * g.w, cn, xp);
    transform_input(g, tl, xp, off_in, t, v);
    parallel_for(16, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k)
        gemm(false, false, g.cout, t, g.cin, 1.0f, u + k * g.cout * g.cin, g.cin, v + k * g.cin * t,
             t, 0.0f, m + k * g.cout * t, t);
    });
    untransform_output(g, tl, m, off_out, t, bias, yt);
    tiles_to_planes(g, tl, yt, cn, y + n0 * g.cout * g.ho() * g.wo());
  }
}

// dM = A dy Aᵀ;  dU[ξ] = Σ_chunks dM[ξ]·V[ξ]ᵀ, dw = Gᵀ dU G;  dV[ξ] = U[ξ]ᵀ·dM[ξ], dx = B dV Bᵀ
// placed back
void winograd_backward(Workspace& ws, const ConvShape& g, const float* x, const float* w,
                       const float* dy, float* dw, float* db, float* dx) {
  const Tiles tl(g);
  const int64_t ns = chunk_samples(g, tl), per = tl.per_image(), ucount = 16 * g.cout * g.cin;
  const int64_t xplane = tl.padded_height() * tl.padded_width(), yplane = 4 * per;
  const int64_t big_t = ns * per;
  float* u = ws.floats(2 * ucount + 16 * big_t * (2 * g.cin + g.cout) +
                       ns * (g.cin * xplane + g.cout * yplane) + g.n * g.cout);
  float* du = u + ucount;
  float* v = du + ucount;
  float* dm = v + 16 * g.cin * big_t;
  float* dv = dm + 16 * g.cout * big_t;
  float* xp = dv + 16 * g.cin * big_t;
  float* yt = xp + ns * g.cin * xplane;
  float* db_part = yt + ns * g.cout * yplane;
  // Offsets into the padded input planes (hp × wp) and into the output planes rounded up to whole
  // tiles (2th × 2tw), for the chunk being processed.
  int32_t* off_in = ws.offsets(2 * (big_t + kLanes));
  int32_t* off_out = off_in + big_t + kLanes;
  if (dx) transform_weights(w, g.cout, g.cin, u);
  for (int64_t n0 = 0; n0 < g.n; n0 += ns) {
    const int64_t cn = std::min(ns, g.n - n0), t = cn * per;
    tile_offsets(tl, cn, tl.padded_width(), g.cin * xplane, off_in);
    tile_offsets(tl, cn, 2 * tl.tw, g.cout * yplane, off_out);
    pad_chunk(g, tl, x + n0 * g.cin * g.h * g.w, cn, xp);
    transform_input(g, tl, xp, off_in, t, v);
    planes_to_tiles(g, tl, dy + n0 * g.cout * g.ho() * g.wo(), cn, yt, db_part + n0 * g.cout);
    transform_grad(g, tl, yt, off_out, t, dm);
    const float beta = n0 == 0 ? 0.0f : 1.0f;  // dU accumulates over chunks, in chunk order
    parallel_for(16, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        const float* dmk = dm + k * g.cout * t;
        gemm(false, true, g.cout, g.cin, t, 1.0f, dmk, t, v + k * g.cin * t, t, beta,
             du + k * g.cout * g.cin, g.cin);
        if (dx)
          gemm(true, false, g.cin, t, g.cout, 1.0f, u + k * g.cout * g.cin, g.cin, dmk, t, 0.0f,
               dv + k * g.cin * t, t);
      }
    });
    if (!dx) continue;
    std::memset(xp, 0, cn * g.cin * xplane * sizeof(float));
    untransform_input(g, tl, dv, off_in, t, xp);
    unpad_chunk(g, tl, xp, cn, dx + n0 * g.cin * g.h * g.w);
  }
  untransform_weights(du, g.cout, g.cin, dw);
  // db[o] = Σ_samples db_part[s·Cout + o] in sample order. (Each part is a sum from +0, never −0,
  // so starting from the first part gives the bits of starting from 0.)
  if (db && g.n > 0) sum_pieces(db_part, g.n, g.cout, g.cout, db);
}

}  // namespace qt
