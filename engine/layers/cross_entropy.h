#pragma once
// Softmax cross-entropy over the rows of a (N, K) logits matrix, mean over the batch:
// L = (1/N)·Σ_n [log Σ_k exp(z[n, k]) − z[n, y_n]],  dL/dz[n, k] = (softmax(z[n])_k − [k = y_n])/N.
#include <cstdint>
#include <span>

#include "engine/core/tensor.h"

namespace qt {

// Returns the mean loss. dlogits (nullable) receives the gradient of the mean loss; correct
// (nullable) the number of rows whose argmax (first on ties) is the label. Throws
// std::invalid_argument on a label outside [0, K) or a label count other than N. denominator > 0:
// the gradient divides by it instead of N (the rows are one shard of a batch of that size).
float softmax_cross_entropy(const Tensor& logits, std::span<const int32_t> labels, Tensor* dlogits,
                            int64_t* correct, int64_t denominator = 0);

}  // namespace qt
