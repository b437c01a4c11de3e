// Direct stride-2 convolution by polyphase decomposition (direct_conv.h): the input splits into
// its four phases x_αβ[i][j] = x[2i + α][2j + β], each (H/2) × (W/2), and tap (a, b) of output
// (i, j) reads x[2i + a − p][2j + b − p] = x_αβ[i + da][j + db] with a − p = 2·da + α and
// b − p = 2·db + β. So the strided convolution is a stride-1 one over shifted views of the phases,
// on a grid exactly W/2 wide: the same shifted GEMM and dW kernels as stride 1, with no im2col
// copy. dx splits the same way: phase (α, β) of dx is Σ over the taps of that phase of the flipped
// weights times dy shifted by (−da, −db), four shifted GEMMs, then interleaved into dx.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/core/isa.h"
#include "engine/kernels/conv_direct.h"
#include "engine/kernels/conv_direct_blocks.h"

namespace qt {

QT_AVX512_BEGIN

namespace direct {
namespace {

// The phase layout of one pass: `planes` source planes, their phase copies (one per phase and
// column offset d ∈ [dmin, dmax]) each padded with −dmin zero rows above and dmax below, on rows
// hp × wp (the output grid); ps floats per copy.
struct PhaseGrid {
  int64_t k, pad, planes, hp, wp, dmin, dmax, cols, ps;
  PhaseGrid(const ConvShape& cv, int64_t planes_)
      : k(cv.k), pad(cv.pad), planes(planes_), hp(cv.h / 2), wp(cv.w / 2) {
    dmin = split(0).d;
    dmax = split(k - 1).d;
    cols = round_up(hp * wp, kV);
    ps = round_up(kFront + (hp + dmax - dmin) * wp + (cols - hp * wp) + k + kV, kV);
  }
  struct Tap {
    int64_t d, phase;  // a − p = 2·d + phase
  };
  Tap split(int64_t a) const {
    const int64_t e = a - pad, phase = e & 1;
    return {(e - phase) / 2, phase};
  }
  int64_t shifts() const { return dmax - dmin + 1; }
  bool dense() const { return cols == hp * wp; }
  int64_t copies() const { return shifts() * 4 * planes; }
  int64_t floats() const { return copies() * ps; }
  // Copy of plane c, phase (α, β), read at column offset d.
  int64_t copy(int64_t d, int64_t alpha, int64_t beta, int64_t c) const {
    return ((d - dmin) * 4 + alpha * 2 + beta) * planes + c;
  }
  // Tap (c, a, b) of the forward pass and of dW: x_αβ at row i + da, column j + db.
  int32_t x_offset(int64_t c, int64_t a, int64_t b) const {
    const Tap r = split(a), s = split(b);
    return static_cast<int32_t>(copy(s.d, r.phase, s.phase, c) * ps + kFront + (r.d - dmin) * wp +
                                s.d);
  }
};

// The copies of the phases of `planes` planes h × w (h = 2·hp, w = 2·wp), for the column offsets
// and phases some tap reads: copy (d, α, β, c) holds x_αβ[c] below −dmin zero rows, with the
// columns a read at offset d can wrap onto set to zero (last −d if d < 0, first d if d > 0).
void fill_phases(const PhaseGrid& g, const float* src, const std::vector<char>& used, float* dst) {
  const int64_t w = 2 * g.wp;
  for (int64_t d = g.dmin; d <= g.dmax; ++d)
    for (int64_t alpha = 0; alpha < 2; ++alpha)
      for (int64_t beta = 0; beta < 2; ++beta) {
        if (!used[(d - g.dmin) * 2 + beta]) continue;
        const int64_t j0 = std::max<int64_t>(0, d), j1 = std::min(g.wp, g.wp + d);
        for (int64_t c = 0; c < g.planes; ++c) {
          float* p = dst + g.copy(d, alpha, beta, c) * g.ps;
          std::memset(p, 0, g.ps * sizeof(float));
          float* rows = p + kFront - g.dmin * g.wp;
          const float* plane = src + c * 2 * g.hp * w;
          for (int64_t i = 0; i < g.hp; ++i) {
            const float* s = plane + (2 * i + alpha) * w + beta;
            float* r = rows + i * g.wp;
            for (int64_t j = j0; j < j1; ++j) r[j] = s[2 * j];
          }
        }
      }
}

// used[(d − dmin)·2 + β]: whether some tap reads phase column β at column offset d.
std::vector<char> used_shifts(const PhaseGrid& g) {
  std::vector<char> used(static_cast<size_t>(g.shifts() * 2), 0);
  for (int64_t b = 0; b < g.k; ++b) {
    const PhaseGrid::Tap s = g.split(b);
    used[(s.d - g.dmin) * 2 + s.phase] = 1;
  }
  return used;
}

// y[o] = b[o] + Σ_{c,a,b} W[o, c, a, b]·x_αβ[c][q + da·W/2 + db], one task per sample
void forward_s2(Workspace& ws, const ConvShape& cv, const float* x, const float* w,
                const float* bias, float* y) {
  const PhaseGrid g(cv, cv.cin);
  const int64_t taps = cv.cin * cv.k * cv.k, m_pad = round_up(cv.cout, kRows);
  const int64_t howo = g.hp * g.wp;
  float* pack = ws.floats(m_pad * taps);
  pack_rows(
      cv.cout, taps, [&](int64_t o, int64_t t) { return w[o * taps + t]; }, pack);
  int32_t* off = ws.offsets(taps);
  for (int64_t c = 0; c < cv.cin; ++c)
    for (int64_t a = 0; a < cv.k; ++a)
      for (int64_t b = 0; b < cv.k; ++b) off[(c * cv.k + a) * cv.k + b] = g.x_offset(c, a, b);
  const int32_t* offp = off;
  const std::vector<char> used = used_shifts(g);
  ws.prepare_tasks();
  parallel_for(cv.n, 1, [&](int64_t n0, int64_t n1) {
    float* xin = ws.task(g.floats() + (g.dense() ? 0 : cv.cout * g.cols));
    float* tmp = xin + g.floats();
    for (int64_t s = n0; s < n1; ++s) {
      fill_phases(g, x + s * cv.cin * cv.h * cv.w, used, xin);
      float* ys = y + s * cv.cout * howo;
      if (g.dense()) {
        shifted_gemm(cv.cout, taps, pack, offp, xin, g.cols, ys, g.cols, bias);
      } else {
        shifted_gemm(cv.cout, taps, pack, offp, xin, g.cols, tmp, g.cols, bias);
        for (int64_t o = 0; o < cv.cout; ++o)
          std::memcpy(ys + o * howo, tmp + o * g.cols, howo * sizeof(float));
      }
    }
  });
}

// dW[o][t] = Σ_{n,q} dy[o][q]·x_t[q] over fixed groups of samples (partials summed in group order);
// dx_αβ[c] = Σ_{o, taps (a, b) of phase (α, β)} W[o, c, a, b]·dy[o][q − da·W/2 − db]
void backward_s2(Workspace& ws, const ConvShape& cv, const float* x, const float* w,
                 const float* dy, float* dw, float* db, float* dx) {
  const PhaseGrid gx(cv, cv.cin);
  const int64_t hp = gx.hp, wp = gx.wp, howo = hp * wp, cols = gx.cols, k = cv.k;
  const int64_t taps = cv.cin * k * k, wsize = cv.cout * taps;
  const DwPlan plan(cv.n, cols, cv.cout, taps);
  const int64_t m8 = plan.m8, sb = plan.sb, taps3 = plan.taps3;
  const bool dy_is_grid = gx.dense() && cv.cout % kGo == 0;
  const int64_t xfloats = gx.floats() + cols + kV;  // the copies, then a zero region
  // dy's copies for dx: one per column offset e = −db ∈ [−dmax, −dmin], dmax zero rows above.
  const int64_t eshifts = gx.shifts(), dyfloats = eshifts * cv.cout * gx.ps;
  auto dy_offset = [&](int64_t o, int64_t a, int64_t b) {
    const PhaseGrid::Tap r = gx.split(a), s = gx.split(b);
    return static_cast<int32_t>(((-s.d + gx.dmax) * cv.cout + o) * gx.ps + kFront +
                                (gx.dmax - r.d) * wp - s.d);
  };

  // The taps of each dx phase (α, β), their packed weights and offsets.
  const int64_t cin8 = round_up(cv.cin, kRows);
  std::vector<int64_t> phase_taps[4];
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = 0; b < k; ++b)
      phase_taps[gx.split(a).phase * 2 + gx.split(b).phase].push_back(a * k + b);
  float* pack = ws.floats((dx ? cin8 * cv.cout * k * k : 0) + plan.groups * plan.part());
  float* parts = pack + (dx ? cin8 * cv.cout * k * k : 0);
  int32_t* off = ws.offsets(taps3 + cv.cout * k * k);
  std::fill(off, off + taps3 + cv.cout * k * k, 0);
  for (int64_t t = taps; t < taps3; ++t) off[t] = static_cast<int32_t>(gx.floats());
  for (int64_t c = 0; c < cv.cin; ++c)
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = 0; b < k; ++b) off[(c * k + a) * k + b] = gx.x_offset(c, a, b);
  const float* phase_pack[4];
  const int32_t* phase_off[4];
  int64_t phase_k[4];
  {
    int64_t at = 0;
    for (int64_t ph = 0; ph < 4; ++ph) {
      const std::vector<int64_t>& pt = phase_taps[ph];
      const int64_t nt = static_cast<int64_t>(pt.size()), kk = cv.cout * nt;
      phase_k[ph] = kk;
      phase_pack[ph] = pack + at * cin8;
      phase_off[ph] = off + taps3 + at;
      for (int64_t o = 0; o < cv.cout; ++o)
        for (int64_t i = 0; i < nt; ++i)
          off[taps3 + at + o * nt + i] = dy_offset(o, pt[i] / k, pt[i] % k);
      if (dx)
        pack_rows(
            cv.cin, kk,
            [&](int64_t c, int64_t t) {
              const int64_t o = t / nt, ab = pt[t % nt];
              return w[(o * cv.cin + c) * k * k + ab];
            },
            pack + at * cin8);
      at += kk;
    }
  }
  const std::vector<char> used = used_shifts(gx);

  // A task's scratch: the pass's phase copies, its dy grids, then dy's copies and an output grid
  // for dx.
  const int64_t grid_floats = dy_is_grid ? 0 : sb * m8 * cols;
  const int64_t scratch = sb * xfloats + grid_floats + dyfloats + cv.cin * cols;
  auto sample = [&](int64_t s, int64_t slot, float* pb, float* mine, const float*& g,
                    const float*& xs_out) {
    const float* dys = dy + s * cv.cout * howo;
    float* xs = mine + slot * xfloats;
    fill_phases(gx, x + s * cv.cin * cv.h * cv.w, used, xs);
    std::memset(xs + gx.floats(), 0, (cols + kV) * sizeof(float));
    for (int64_t o = 0; o < cv.cout; ++o) pb[o] += sum_pairwise(dys + o * howo, howo);
    xs_out = xs;
    if (dy_is_grid) {
      g = dys;
      return;
    }
    // dy on the grid: zero at the tail and the rows ≥ Cout.
    float* gs = mine + sb * xfloats + slot * m8 * cols;
    std::memset(gs, 0, m8 * cols * sizeof(float));
    for (int64_t o = 0; o < cv.cout; ++o)
      std::memcpy(gs + o * cols, dys + o * howo, howo * sizeof(float));
    g = gs;
  };
  auto dx_of = [&](int64_t s, float* mine) {
    if (!dx) return;
    float* dyin = mine + sb * xfloats + grid_floats;
    float* tmp = dyin + dyfloats;
    // dy's copies: plane o below dmax zero rows, shifted by e with wrapped columns zeroed.
    const float* dys = dy + s * cv.cout * howo;
    for (int64_t e = -gx.dmax; e <= -gx.dmin; ++e) {
      const int64_t j0 = std::max<int64_t>(0, e), j1 = std::min(wp, wp + e);
      for (int64_t o = 0; o < cv.cout; ++o) {
        float* p = dyin + ((e + gx.dmax) * cv.cout + o) * gx.ps;
        std::memset(p, 0, gx.ps * sizeof(float));
        float* rows = p + kFront + gx.dmax * wp;
        for (int64_t i = 0; i < hp; ++i)
          std::memcpy(rows + i * wp + j0, dys + o * howo + i * wp + j0, (j1 - j0) * sizeof(float));
      }
    }
    float* dxs = dx + s * cv.cin * cv.h * cv.w;
    for (int64_t ph = 0; ph < 4; ++ph) {
      const int64_t alpha = ph / 2, beta = ph % 2;
      if (phase_k[ph] > 0)
        shifted_gemm(cv.cin, phase_k[ph], phase_pack[ph], phase_off[ph], dyin, cols, tmp, cols,
                     nullptr);
      else
        std::memset(tmp, 0, cv.cin * cols * sizeof(float));
      for (int64_t c = 0; c < cv.cin; ++c)
        for (int64_t i = 0; i < hp; ++i) {
          const float* src = tmp + c * cols + i * wp;
          float* dst = dxs + (c * cv.h + 2 * i + alpha) * cv.w + beta;
          for (int64_t j = 0; j < wp; ++j) dst[2 * j] = src[j];
        }
    }
  };
  dw_groups(ws, plan, off, parts, scratch, sample, dx_of);
  sum_weight_partials(parts, plan.groups, wsize, cv.cout, dw, db);
}

}  // namespace
}  // namespace direct

QT_AVX512_END

// The checks in plain code: the kernels above may run only on the AVX-512 path.
static void check(const ConvShape& cv, const char* what) {
  if (!direct_conv_s2_applies(cv.k, cv.pad, cv.h, cv.w))
    throw std::invalid_argument(std::string(what) +
                                ": needs the AVX-512 path, padding (k − 1)/2 and an even H × W, "
                                "got k " +
                                std::to_string(cv.k) + ", padding " + std::to_string(cv.pad) +
                                ", " + std::to_string(cv.h) + "×" + std::to_string(cv.w));
}

void direct_conv_s2_forward(Workspace& ws, const ConvShape& cv, const float* x, const float* w,
                            const float* bias, float* y) {
  check(cv, "direct_conv_s2_forward");
  direct::forward_s2(ws, cv, x, w, bias, y);
}

void direct_conv_s2_backward(Workspace& ws, const ConvShape& cv, const float* x, const float* w,
                             const float* dy, float* dw, float* db, float* dx) {
  check(cv, "direct_conv_s2_backward");
  direct::backward_s2(ws, cv, x, w, dy, dw, db, dx);
}

bool direct_conv_s2_applies(int64_t k, int64_t pad, int64_t h, int64_t w) {
  return direct_conv_available() && 2 * pad == k - 1 && h > 0 && w > 0 && h % 2 == 0 && w % 2 == 0;
}

}  // namespace qt
