#pragma once
// Batches of a file-backed dataset: each sample's file read, decoded, cropped, flipped, resized
// and normalised when the batch is made (make_batch hands file-backed data here).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "datasets/jpeg_decode.h"

namespace qt {

// What one sample of a file becomes.
struct SampleTransform {
  bool random_resized_crop = false;  // else Resize(resize) + CenterCrop
  float min_scale = 0.08f;
  bool hflip = false;
  int resize = 256;
  int out_w = 224, out_h = 224;
};

// Reusable buffers of one thread.
struct DecodeScratch {
  JpegDecoder decoder;
  std::vector<uint8_t> file;
  Image image;
};

// Reads and decodes `path`, writes its sample (3 × out_h × out_w, normalised by scale/shift) to
// dst. Draws come from uniform_at(key, k). Throws BadImage saying what is wrong with the file;
// `warning` is set when libjpeg decoded it with a warning.
void load_sample(DecodeScratch& s, const std::string& path, const SampleTransform& t, uint64_t key,
                 const float* scale, const float* shift, float* dst, std::string& warning);

// make_batch for data.file_backed(): bad files are replaced by the next good file of the dataset
// (data.skip_bad) and listed in out.problems, or end the batch with DataError naming the file.
// `first` is the position of indices[0] in its batch, as for make_batch.
void make_file_batch(const Dataset& data, std::span<const int64_t> indices,
                     const Normalization& norm, const Augmentation& aug, uint64_t key, Batch& out,
                     int64_t first = 0);

}  // namespace qt
