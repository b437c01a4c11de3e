// Ternary weight networks' approximate projection onto {−α, 0, +α} (Li & Liu 2016):
// Δ = 0.7·mean|w|, keep |w_i| > Δ with their signs, α = the mean of the kept |w_i|.
// The BinaryRelax and BCGD code (quantize_tnn) divides the kept sum by the full size n instead,
// a shrunken α: Q(Q(w)) = (kept/n)·Q(w), so that variant is not idempotent. The code keeps
// |w_i| ≥ Δ (and caps Δ at 100); the two differ only for a weight exactly equal to Δ.
#include <cmath>

#include "engine/quant/projection_kernels.h"

namespace qt::detail {

TensorFit project_ternary_twn(std::span<const float> w, std::span<float> q, bool divide_by_n) {
  if (w.empty()) return {};
  const double n = static_cast<double>(w.size());
  const double total = chunked_sums(w, [](float x) { return Sums{std::fabs(x), 0.0}; }).a;
  if (!std::isfinite(total)) throw_non_finite();
  const double delta = 0.7 * (total / n);
  // |w| > Δ as |w| > the largest float ≤ Δ, which decides the same, compared on the bits of
  // the magnitudes (which order like them): this form vectorizes.
  float below = static_cast<float>(delta);
  if (below > delta) below = std::nextafter(below, 0.0f);
  const uint32_t threshold = magnitude_bits(below);

  // Σ over the kept |w_i| and their count (exact: an integer below 2^53).
  const Sums kept = chunked_sums(w, [threshold](float x) {
    const double keep = magnitude_bits(x) > threshold ? 1.0 : 0.0;
    return Sums{std::fabs(x) * keep, keep};
  });
  const double divisor = divide_by_n ? n : kept.b;
  const float alpha = kept.b > 0 ? static_cast<float>(kept.a / divisor) : 0.0f;
  return {alpha, write_projection(w, q, [=](float x) {
            return magnitude_bits(x) > threshold ? std::copysign(alpha, x) : 0.0f;
          })};
}

}  // namespace qt::detail
