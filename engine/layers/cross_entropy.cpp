#include "engine/layers/cross_entropy.h"

#include <cmath>
#include <stdexcept>

namespace qt {

// L = (1/N)·Σ_n [log Σ_k exp(z[n, k] − m_n) + m_n − z[n, y_n]],  m_n = max_k z[n, k]
// dL/dz[n, k] = (exp(z[n, k] − m_n)/Σ_k exp(z[n, k] − m_n) − [k = y_n]) / N
float softmax_cross_entropy(const Tensor& logits, std::span<const int32_t> labels, Tensor* dlogits,
                            int64_t* correct, int64_t denominator) {
  if (logits.ndim() != 2)
    throw std::invalid_argument("softmax_cross_entropy: expected logits (N, K), got " +
                                shape_str(logits.shape()));
  const int64_t n = logits.dim(0), k = logits.dim(1);
  if (static_cast<int64_t>(labels.size()) != n)
    throw std::invalid_argument("softmax_cross_entropy: " + std::to_string(labels.size()) +
                                " labels for " + std::to_string(n) + " rows of logits");
  for (int64_t r = 0; r < n; ++r)
    if (labels[r] < 0 || labels[r] >= k)
      throw std::invalid_argument("softmax_cross_entropy: label " + std::to_string(labels[r]) +
                                  " of row " + std::to_string(r) + " is outside [0, " +
                                  std::to_string(k) + ")");
  if (dlogits) dlogits->resize(logits.shape());
  double total = 0.0;
  int64_t hits = 0;
  const int64_t den = denominator > 0 ? denominator : n;
  const float inv_n = den ? 1.0f / static_cast<float>(den) : 0.0f;
  for (int64_t r = 0; r < n; ++r) {
    const float* z = logits.data() + r * k;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (z[j] > z[best]) best = j;
    const float m = z[best];
    double sum = 0.0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(z[j] - m));
    total += std::log(sum) + m - z[labels[r]];
    hits += best == labels[r];
    if (dlogits) {
      float* d = dlogits->data() + r * k;
      for (int64_t j = 0; j < k; ++j)
        d[j] = static_cast<float>(std::exp(static_cast<double>(z[j] - m)) / sum) * inv_n;
      d[labels[r]] -= inv_n;
    }
  }
  if (correct) *correct = hits;
  return n ? static_cast<float>(total / static_cast<double>(n)) : 0.0f;
}

}  // namespace qt
