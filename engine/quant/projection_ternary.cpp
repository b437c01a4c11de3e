// Exact ternary projection onto {−α, 0, +α} (BinaryRelax paper).
//
// Keeping the j largest |w| with α = S_j / j leaves ‖w − Q‖² = ‖w‖² − S_j²/j, so the projection
// keeps the j* largest, j* = argmax_j f(j), f(j) = S_j²/j, S_j = the sum of the j largest |w|.
// Within a run of equal magnitudes f is convex in j (f = c²/j + 2ca + a²j with c ≥ 0), so its
// maximum over the run is at an end: only ends of runs are candidates, and the kept set is then
// {|w_i| ≥ threshold}, which no ordering of ties can change. Among equal maxima the smallest j.
//
// Instead of sorting all of w: a magnitude histogram (projection_histogram.h) gives S_j and f at
// every bucket end. Inside a bucket of magnitudes in [lo, hi] that starts at (j0, S0), f is at
// most the peak of a bound made of two convex pieces (below). Only buckets where that bound
// reaches the best bucket-end value (a few buckets near |w| ≈ α/2, in practice: a few thousand
// weights of VGG-11's largest layer) are sorted and searched element by element.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "engine/quant/projection_histogram.h"
#include "engine/quant/projection_kernels.h"

namespace qt::detail {

namespace {

struct Choice {
  double f = 0;        // S_j² / j
  int64_t j = 0;       // how many are kept
  double s = 0;        // S_j
  uint32_t threshold;  // keep i iff magnitude_bits(w_i) ≥ threshold
};

// Rounding in S (double sums of up to 2^29 terms) is far below this; a bucket whose bound falls
// short of the best by more cannot hold the maximum.
constexpr double kBoundSlack = 1e-9;

}  // namespace

TensorFit project_ternary_exact(std::span<const float> w, std::span<float> q) {
  const uint32_t max_bits = max_magnitude_bits(w);
  if (max_bits == 0) return {0.0f, write_projection(w, q, [](float) { return 0.0f; })};

  const MagnitudeHistogram h(w, max_bits);
  const int buckets = h.size();
  // Bucket ends, largest magnitudes first; j = 0 (keep nothing) is the starting choice.
  Choice best{0.0, 0, 0.0, std::numeric_limits<uint32_t>::max()};
  std::vector<double> start_s(buckets);
  std::vector<int64_t> start_j(buckets);
  double s = 0;
  int64_t j = 0;
  for (int b = 0; b < buckets; ++b) {
    start_s[b] = s;
    start_j[b] = j;
    if (h.count(b) == 0) continue;
    s += h.sum(b);
    j += h.count(b);
    const double f = s * s / static_cast<double>(j);
    if (f > best.f) best = {f, j, s, h.lower_bits(b)};
  }

  std::vector<char> take(buckets, 0);
  for (int b = 0; b < buckets; ++b) {
    const double count = static_cast<double>(h.count(b));
    if (count < 2) continue;  // no run ends inside
    const double lo = from_bits(h.lower_bits(b)), hi = h.upper(b);
    // Run ends inside: j0 + s for 1 ≤ s ≤ count − 1 (its end is counted above). The s largest
    // of the bucket sum to at most min(s·hi, B − (count − s)·lo); each side gives a function of
    // the convex form above, so the bound peaks at s = 1, count − 1 or where they cross.
    const auto bound_at = [&](double s) {
      const double sum = start_s[b] + std::min(s * hi, h.sum(b) - (count - s) * lo);
      return sum * sum / (static_cast<double>(start_j[b]) + s);
    };
    double bound = std::max(bound_at(1), bound_at(count - 1));
    const double cross = (h.sum(b) - count * lo) / (hi - lo);
    if (cross > 1 && cross < count - 1) bound = std::max(bound, bound_at(cross));
    take[b] = bound >= best.f * (1 - kBoundSlack);
  }
  std::vector<float> sorted = h.gather(w, take);
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());

  // Run ends inside the candidate buckets (a bucket's own end keeps its bucket-sum value).
  size_t pos = 0;
  for (int b = 0; b < buckets; ++b) {
    if (!take[b]) continue;
    const size_t end = pos + static_cast<size_t>(h.count(b));
    double sb = start_s[b];
    int64_t jb = start_j[b];
    for (; pos + 1 < end; ++pos) {
      sb += sorted[pos];
      ++jb;
      if (sorted[pos] == sorted[pos + 1]) continue;
      const double f = sb * sb / static_cast<double>(jb);
      if (f > best.f || (f == best.f && jb < best.j))
        best = {f, jb, sb, magnitude_bits(sorted[pos])};
    }
    pos = end;
  }

  const float alpha = best.j > 0 ? static_cast<float>(best.s / static_cast<double>(best.j)) : 0.0f;
  const uint32_t threshold = best.threshold;
  return {alpha, write_projection(w, q, [=](float x) {
            return magnitude_bits(x) >= threshold ? std::copysign(alpha, x) : 0.0f;
          })};
}

}  // namespace qt::detail
