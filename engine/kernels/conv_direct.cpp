#include "engine/kernels/conv_direct.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "engine/core/isa.h"
#include "engine/kernels/conv_direct_blocks.h"

namespace qt {

QT_AVX512_BEGIN

namespace direct {

namespace {

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
      float* rows = p + kFront + g.pad * g.w;
      // Zeros around the plane only: a full memset first would write every plane twice.
      std::memset(p, 0, (rows - p) * sizeof(float));
      std::memcpy(rows, src + c * g.h * g.w, g.h * g.w * sizeof(float));
      std::memset(rows + g.h * g.w, 0, (p + g.ps - rows - g.h * g.w) * sizeof(float));
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

// The valid part of an output grid: y[m][i][j] = out[m][i·w + j], j < wo.
void grid_to_planes(const Grid& g, const float* out, int64_t m, float* y) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t i = 0; i < g.ho; ++i)
      std::memcpy(y + (r * g.ho + i) * g.wo, out + r * g.cols + i * g.w, g.wo * sizeof(float));
}

// out (m planes ho × wo) = bias + pack · shift(in) over grid g: straight into the planes when the
// grid is dense, else on the grid in tmp, then its valid part.
void gemm_to_planes(const Grid& g, int64_t m, int64_t taps, const float* pack, const int32_t* off,
                    const float* in, const float* bias, float* tmp, float* out) {
  if (g.dense()) {
    shifted_gemm(m, taps, pack, off, in, g.cols, out, g.cols, bias);
    return;
  }
  shifted_gemm(m, taps, pack, off, in, g.cols, tmp, g.cols, bias);
  grid_to_planes(g, tmp, m, out);
}

// y[o] = b[o] + Σ_{c,a,b} W[o, c, a, b]·x_b[c][q + a·W + b − p], one task per sample
void forward(Workspace& ws, const ConvShape& cv, const float* x, const float* w, const float* bias,
             float* y) {
  const Grid g(cv.h, cv.w, cv.pad, cv.k, cv.cin);
  const int64_t taps = cv.cin * cv.k * cv.k, m_pad = round_up(cv.cout, kRows);
  float* pack = ws.floats(m_pad * taps);
  pack_rows(
      cv.cout, taps, [&](int64_t o, int64_t t) { return w[o * taps + t]; }, pack);
  int32_t* offp = ws.offsets(taps);
  tap_offsets(g, taps, 0, offp);
  ws.prepare_tasks();
  parallel_for(cv.n, 1, [&](int64_t n0, int64_t n1) {
    float* xin = ws.task(g.floats() + (g.dense() ? 0 : cv.cout * g.cols));
    float* tmp = xin + g.floats();
    for (int64_t s = n0; s < n1; ++s) {
      fill_copies(g, x + s * cv.cin * cv.h * cv.w, xin);
      gemm_to_planes(g, cv.cout, taps, pack, offp, xin, bias, tmp, y + s * cv.cout * g.ho * g.wo);
    }
  });
}

// dW[o][t] = Σ_{n,q} dy[o][q]·x_t[q] over fixed groups of samples (partials summed in group order);
// dx[c] = Σ_{o,a,b} W[o, c, k−1−a, k−1−b]·dy_b[o][q + a·W + b − (k−1−p)]
void backward(Workspace& ws, const ConvShape& cv, const float* x, const float* w, const float* dy,
              float* dw, float* db, float* dx) {
  const Grid gx(cv.h, cv.w, cv.pad, cv.k, cv.cin);                // x: the forward pass
  const Grid gd(gx.ho, gx.wo, cv.k - 1 - cv.pad, cv.k, cv.cout);  // dy padded for dx
  const int64_t taps = cv.cin * cv.k * cv.k, wsize = cv.cout * taps, dtaps = cv.cout * cv.k * cv.k;
  const DwPlan plan(cv.n, gx.cols, cv.cout, taps);
  const int64_t m8 = plan.m8, sb = plan.sb;
  // dy is its own dW operand when it already has the grid's layout and whole blocks of channels.
  const bool dy_is_grid = gx.dense() && cv.cout % kGo == 0;
  const int64_t xfloats = gx.floats() + gx.cols + kV;  // the copies, then a zero region
  const int64_t grid_floats = dy_is_grid ? 0 : sb * m8 * gx.cols;

  float* pack = ws.floats((dx ? round_up(cv.cin, kRows) * dtaps : 0) + plan.groups * plan.part());
  float* parts = pack + (dx ? round_up(cv.cin, kRows) * dtaps : 0);
  if (dx)
    pack_rows(
        cv.cin, dtaps,
        [&](int64_t c, int64_t t) {
          const int64_t o = t / (cv.k * cv.k), a = t / cv.k % cv.k, b = t % cv.k;
          return w[((o * cv.cin + c) * cv.k + (cv.k - 1 - a)) * cv.k + (cv.k - 1 - b)];
        },
        pack);
  int32_t* off = ws.offsets(plan.taps3 + dtaps);
  tap_offsets(gx, plan.taps3, static_cast<int32_t>(gx.floats()), off);
  tap_offsets(gd, dtaps, 0, off + plan.taps3);
  const int32_t* doff = off + plan.taps3;

  // A task's scratch: the pass's input copies, its dy grids, then dy's copies and an output grid
  // for dx.
  const int64_t scratch =
      sb * xfloats + grid_floats + gd.floats() + (gd.dense() ? 0 : cv.cin * gd.cols);
  auto sample = [&](int64_t s, int64_t slot, float* pb, float* mine, const float*& g,
                    const float*& xs_out) {
    const float* dys = dy + s * cv.cout * gx.ho * gx.wo;
    float* xs = mine + slot * xfloats;
    fill_copies(gx, x + s * cv.cin * cv.h * cv.w, xs);
    std::memset(xs + gx.floats(), 0, (gx.cols + kV) * sizeof(float));
    for (int64_t o = 0; o < cv.cout; ++o)
      pb[o] += sum_pairwise(dys + o * gx.ho * gx.wo, gx.ho * gx.wo);
    xs_out = xs;
    if (dy_is_grid) {
      g = dys;
      return;
    }
    // dy on the grid: zero at the dropped columns, the tail and the rows ≥ Cout.
    float* gs = mine + sb * xfloats + slot * m8 * gx.cols;
    if (gx.dense()) {  // the planes as they are, then zero rows up to m8
      std::memcpy(gs, dys, cv.cout * gx.cols * sizeof(float));
      std::memset(gs + cv.cout * gx.cols, 0, (m8 - cv.cout) * gx.cols * sizeof(float));
    } else {
      std::memset(gs, 0, m8 * gx.cols * sizeof(float));
      for (int64_t o = 0; o < cv.cout; ++o)
        for (int64_t i = 0; i < gx.ho; ++i)
          std::memcpy(gs + o * gx.cols + i * gx.w, dys + (o * gx.ho + i) * gx.wo,
                      gx.wo * sizeof(float));
    }
    g = gs;
  };
  auto dx_of = [&](int64_t s, float* mine) {
    if (!dx) return;
    float* dyin = mine + sb * xfloats + grid_floats;
    float* tmp = dyin + gd.floats();
    fill_copies(gd, dy + s * cv.cout * gx.ho * gx.wo, dyin);
    gemm_to_planes(gd, cv.cin, dtaps, pack, doff, dyin, nullptr, tmp,
                   dx + s * cv.cin * cv.h * cv.w);
  };
  dw_groups(ws, plan, off, parts, scratch, sample, dx_of);
  sum_weight_partials(parts, plan.groups, wsize, cv.cout, dw, db);
}

}  // namespace
}  // namespace direct

QT_AVX512_END

bool direct_conv_available() {
  return use_avx512();
}

// The checks in plain code: the kernels above may run only on the AVX-512 path.
void direct_conv_forward(Workspace& ws, const ConvShape& cv, const float* x, const float* w,
                         const float* bias, float* y) {
  if (2 * cv.pad > cv.k - 1)
    throw std::invalid_argument("direct_conv_forward: needs padding ≤ (k − 1)/2, got " +
                                std::to_string(cv.pad) + " for k " + std::to_string(cv.k));
  if (!use_avx512()) throw std::logic_error("direct_conv_forward: not on the AVX-512 path");
  direct::forward(ws, cv, x, w, bias, y);
}

void direct_conv_backward(Workspace& ws, const ConvShape& cv, const float* x, const float* w,
                          const float* dy, float* dw, float* db, float* dx) {
  if (2 * cv.pad > cv.k - 1 || (dx && 2 * cv.pad != cv.k - 1))
    throw std::invalid_argument(
        "direct_conv_backward: needs padding (k − 1)/2 (≤ without dx), got " +
        std::to_string(cv.pad) + " for k " + std::to_string(cv.k));
  if (!use_avx512()) throw std::logic_error("direct_conv_backward: not on the AVX-512 path");
  direct::backward(ws, cv, x, w, dy, dw, db, dx);
}

}  // namespace qt
