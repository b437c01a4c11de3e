// b-bit projection onto {0, ±1, …, ±m}·α, m = 2^(b−1) − 1 (b = 3..8), by Lloyd-style
// alternation between codes and scale, as the BCGD code's 4-bit quantize_fbit does once:
//   α_0 = 2·max|w| / (2m + 1)
//   for t = 1..T:  k_i = clip(⌈|w_i|/α_{t−1} − ½⌉, 0, m)     (nearest level, ties down)
//                  α_t = Σ|w_i|k_i / Σk_i²                  (least squares for these codes)
//   Q = sign(w)·α_T·k   (the codes of the last step, scaled by the α fitted to them)
// With T = 1 this is quantize_fbit: its cells ((2k−1)δ, (2k+1)δ] with δ = max/15 are
// ⌈|w|/α_0 − ½⌉ = k for α_0 = 2δ, and its scale is the least-squares fit (its cap δ ≤ 10,
// inert below max|w| = 150, is not reproduced). Each half-step minimises ‖w − Q‖² over the
// codes or over α, so the error never increases with T.
//
// Two safeguards make Q(Q(w)) = Q(w) exact; both are inert on ordinary weights:
// - α is rounded to 25 − b significant bits, so every level k·α (k < 2^(b−1)) is an exact float
//   and refitting α to Q's own codes gives α back exactly. The rounding moves α by < 2^(b−25)
//   relative, and the nearest grid value is still the best grid value, so the error stays
//   non-increasing.
// - α is capped so that max|w| keeps the top code m: an iteration that emptied the top level
//   would make Q's own range max|Q| < mα, and projecting Q again would rescale its codes.
#include <bit>
#include <cmath>
#include <cstdint>

#include "engine/quant/projection_kernels.h"

namespace qt::detail {

namespace {

// The nearest value with p significant bits; the next grid value below and above x (on grid).
double grid_round(double x, int p) {
  int e;
  const double f = std::frexp(x, &e);
  return std::ldexp(std::nearbyint(std::ldexp(f, p)), e - p);
}
double grid_prev(double x, int p) {
  int e;
  const double r = std::ldexp(std::frexp(x, &e), p);
  if (r == std::ldexp(1.0, p - 1)) return std::ldexp(std::ldexp(1.0, p) - 1, e - 1 - p);
  return std::ldexp(r - 1, e - p);
}
double grid_next(double x, int p) {
  int e;
  const double r = std::ldexp(std::frexp(x, &e), p);
  return std::ldexp(r + 1, e - p);
}

// The codes for scale α: k(a) = clip(⌈a/α − ½⌉, 0, m). Written with integer compares only (a
// double ≥ 0 orders like its bits; ⌈y⌉ = trunc(y) + (y − trunc(y) > 0)): GCC vectorizes this,
// while any floating-point min, max or compare here leaves the loop scalar and branchy (6×).
struct Coder {
  double inv, top;  // 1/α and m + ½
  int64_t top_bits;
  Coder(double alpha, double m)
      : inv(1 / alpha), top(m + 0.5), top_bits(std::bit_cast<int64_t>(top)) {}
  double operator()(double a) const {
    double r = a * inv;
    r = std::bit_cast<int64_t>(r) < top_bits ? r : top;  // codes above m clip to m
    const double y = r - 0.5;                            // in [−½, m]
    const int32_t t = static_cast<int32_t>(y);
    return static_cast<double>(t + (std::bit_cast<int64_t>(y - static_cast<double>(t)) > 0));
  }
};

}  // namespace

TensorFit project_bits(std::span<const float> w, std::span<float> q, int bits, int lloyd_iters) {
  const uint32_t max_bits = max_magnitude_bits(w);
  if (max_bits == 0) return {0.0f, write_projection(w, q, [](float) { return 0.0f; })};
  const int p = 25 - bits;
  const double m = std::ldexp(1.0, bits - 1) - 1;
  const double max_w = from_bits(max_bits);

  // The largest grid α that still gives max|w| the code m.
  double cap = grid_next(grid_round(max_w / (m - 0.5), p), p);
  while (Coder(cap, m)(max_w) < m) cap = grid_prev(cap, p);

  double prev = std::min(grid_round(2 * max_w / (2 * m + 1), p), cap);
  double alpha = prev;
  for (int t = 0; t < lloyd_iters; ++t) {
    // Σ|w_i|k_i and Σk_i².
    const Sums fit = chunked_sums(w, [code = Coder(prev, m)](float x) {
      const double a = std::fabs(x);
      const double k = code(a);
      return Sums{a * k, k * k};
    });
    alpha = std::min(grid_round(fit.a / fit.b, p), cap);  // Σk² ≥ m² > 0: max|w| has code m
    if (alpha == prev) break;  // converged: every further step repeats this one
    if (t + 1 < lloyd_iters) prev = alpha;
  }

  const Coder code(prev, m);  // the codes of the last step
  const float a = static_cast<float>(alpha);
  return {a, write_projection(w, q, [=](float x) {
            const float level = a * static_cast<float>(code(std::fabs(x)));
            return std::copysign(level, x) + 0.0f;  // + 0: code 0 gives +0, never −0
          })};
}

}  // namespace qt::detail
