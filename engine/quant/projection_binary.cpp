// Binary projections onto {−α, +α} and {−1, +1}; sign(0) = +1.
#include <algorithm>
#include <cmath>
#include <functional>

#include "engine/quant/projection_histogram.h"
#include "engine/quant/projection_kernels.h"

namespace qt::detail {

namespace {

Errors write_signs(std::span<const float> w, std::span<float> q, float alpha) {
  // 0 − α rather than −α: with α = 0 every value is +0, as a projection of the result gives.
  return write_projection(w, q, [=](float x) { return x >= 0.0f ? alpha : 0.0f - alpha; });
}

}  // namespace

// α = mean|w| minimises ‖w − α·sign(w)‖² = ‖w‖² − 2αΣ|w| + nα², and sign(w) is the best
// code for any α > 0: this is the exact projection.
TensorFit project_binary_mean(std::span<const float> w, std::span<float> q) {
  if (w.empty()) return {};
  const double total = chunked_sums(w, [](float x) { return Sums{std::fabs(x), 0.0}; }).a;
  if (!std::isfinite(total)) throw_non_finite();
  const float alpha = static_cast<float>(total / static_cast<double>(w.size()));
  return {alpha, write_signs(w, q, alpha)};
}

// α = the lower median of |w| (the ⌈n/2⌉-th smallest), as torch.median in the BCGD code.
TensorFit project_binary_median(std::span<const float> w, std::span<float> q) {
  if (w.empty()) return {};
  const uint32_t max_bits = max_magnitude_bits(w);
  float alpha = 0.0f;
  if (max_bits > 0) {
    const int64_t n = static_cast<int64_t>(w.size());
    const int64_t rank = n - 1 - (n - 1) / 2;  // 0-based, counted from the largest
    const MagnitudeHistogram h(w, max_bits);
    std::vector<char> take(h.size(), 0);
    int64_t before = 0;
    int b = 0;
    while (before + h.count(b) <= rank) before += h.count(b++);
    take[b] = 1;
    std::vector<float> mags = h.gather(w, take);
    const auto nth = mags.begin() + (rank - before);
    std::nth_element(mags.begin(), nth, mags.end(), std::greater<float>());
    alpha = *nth;
  }
  return {alpha, write_signs(w, q, alpha)};
}

TensorFit project_binary_noscale(std::span<const float> w, std::span<float> q) {
  return {1.0f, write_signs(w, q, 1.0f)};
}

}  // namespace qt::detail
