#pragma once
// Class balance and per-channel pixel statistics of a dataset.
#include <cstdint>
#include <vector>

#include "datasets/dataset.h"

namespace qt {

struct DatasetStats {
  std::vector<int64_t> class_counts;  // one per class
  std::vector<double> mean, std;      // per channel, of pixels scaled to [0, 1]; empty for files
};

// Sums are exact integers, so the result is identical for every thread count.
DatasetStats dataset_stats(const Dataset& d);

// The normalisation that makes the data of `d` zero-mean, unit-variance per channel.
Normalization computed_normalization(const Dataset& d);

}  // namespace qt
