#pragma once
// An in-memory image classification dataset and the batches made from it.
// Pixels stay uint8 in memory (4× smaller than float); normalisation and augmentation are
// applied when a batch is made.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace qt {

struct Dataset {
  std::string name;    // "fashion-mnist", "cifar10", ...
  std::string source;  // the file(s) it was read from, for messages and `datasets info`
  int channels = 0, height = 0, width = 0;
  int classes = 0;
  std::vector<uint8_t> pixels;  // N × C × H × W
  std::vector<int32_t> labels;  // N, each in [0, classes)
  std::vector<std::string> class_names;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t sample_size() const { return int64_t{channels} * height * width; }
  Shape sample_shape() const { return {channels, height, width}; }
};

// Per-channel normalisation of pixels scaled to [0, 1]: (p/255 − mean[c]) / std[c].
struct Normalization {
  std::vector<float> mean, std;
};

struct Augmentation {
  int pad_crop = 0;    // pad by this many zero pixels, then a random crop of the original size
  bool hflip = false;  // random horizontal flip
  bool any() const { return pad_crop > 0 || hflip; }
};

struct Batch {
  Tensor x;                      // B × C × H × W, normalised
  std::vector<int32_t> y;        // B labels
  std::vector<int64_t> indices;  // dataset indices of the samples
};

// Fills `out` with the samples `indices` of `data`. Augmentation draws from counter-based
// randomness keyed by (key, position in the batch), so it is identical for any thread count.
void make_batch(const Dataset& data, std::span<const int64_t> indices, const Normalization& norm,
                const Augmentation& aug, uint64_t key, Batch& out);

}  // namespace qt
