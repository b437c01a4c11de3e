#pragma once
// A seeded synthetic classification set of any shape and class count, for tests and
// benchmarks: each class has a random prototype image, each sample is its class prototype
// mixed with uniform noise: learnable, with a difficulty set by `noise`.
#include <cstdint>

#include "datasets/dataset.h"

namespace qt {

struct SyntheticSpec {
  int channels = 1, height = 28, width = 28;
  int classes = 10;
  int64_t train_size = 6000, test_size = 1000;
  uint64_t seed = 0;
  float noise = 0.5f;  // share of each pixel that is noise, in [0, 1]
};

// Sample i of a set depends only on (spec.seed, split, i), so the train and test sets share
// prototypes but never samples. split: 0 = train, 1 = test.
Dataset make_synthetic(const SyntheticSpec& spec, int split);

}  // namespace qt
