#pragma once
// The validation split: a seeded choice of samples held out of the training set, optionally
// stratified (each class contributes in proportion to its size).
#include <cstdint>
#include <vector>

#include "datasets/dataset.h"

namespace qt {

struct SplitIndices {
  std::vector<int64_t> train, val;  // disjoint, together all of [0, n), each ascending
};

// Throws UsageError when val_size is not in [0, n).
SplitIndices split_indices(const std::vector<int32_t>& labels, int classes, int64_t val_size,
                           bool stratified, uint64_t seed);

// A copy of the samples `indices` of `d`, in that order.
Dataset subset(const Dataset& d, const std::vector<int64_t>& indices);

// Moves the samples `val` (ascending) out of `train` into the returned dataset and compacts
// `train` in place, so a large training set is never held twice.
Dataset split_off(Dataset& train, const std::vector<int64_t>& val);

// Keeps the first n samples (n ≤ 0 or ≥ size: all).
void truncate(Dataset& d, int64_t n);

}  // namespace qt
