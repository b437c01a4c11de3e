#pragma once
// An image classification dataset and the batches made from it. Small images live in memory as
// uint8 pixels (4× smaller than float); large ones (ImageNet folders) stay in their files and are
// decoded when a batch is made. Normalisation and augmentation are applied then too.
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
  // A split of image files keeps no pixels: each batch decodes its samples' files
  // (datasets/image_batch.cpp), cropped and resized to channels × height × width.
  std::vector<std::string> files;  // one per label when file-backed, else empty
  int resize = 0;        // evaluation: the shorter side is resized to this before the centre crop
  bool skip_bad = true;  // an undecodable file is replaced by the next good one, or DataError

  bool file_backed() const { return !files.empty(); }
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
  // File-backed data: a random crop of area min_scale..1 and aspect 3/4..4/3 of the image,
  // resized to the output (torchvision's RandomResizedCrop); off = the evaluation centre crop.
  bool random_resized_crop = false;
  float min_scale = 0.08f;
  bool any() const { return pad_crop > 0 || hflip || random_resized_crop; }
};

// A file that failed to decode (skipped: its sample holds the next good image of the dataset
// instead) or decoded with a warning (used as decoded). The message names the file and says why.
struct ImageProblem {
  std::string message;
  bool skipped = true;
};

struct Batch {
  Tensor x;                      // B × C × H × W, normalised
  std::vector<int32_t> y;        // B labels
  std::vector<int64_t> indices;  // dataset indices of the samples
  // A batch may be made in parts (each process of a training its own rows): x's row i is row
  // first + i of the whole batch, which has `total` rows. The whole batch: first = 0, total = B.
  int64_t first = 0, total = 0;
  // File-backed data: the files of this batch that could not be used as they are, in sample order.
  std::vector<ImageProblem> problems;  // at most one per sample: its own file
};

// Fills `out` with the samples `indices` of `data`, which stand at positions first, first + 1, …
// of their batch. Augmentation draws from counter-based randomness keyed by (key, position in
// the batch), so it is identical for any thread count, and a part of a batch made alone is
// bit for bit the same rows of the whole batch. out.total is set to first + indices.size().
void make_batch(const Dataset& data, std::span<const int64_t> indices, const Normalization& norm,
                const Augmentation& aug, uint64_t key, Batch& out, int64_t first = 0);

}  // namespace qt
