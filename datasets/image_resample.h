#pragma once
// Resizing a box of a decoded image to a sample of the batch: bilinear interpolation that widens
// its triangle filter when shrinking (as Pillow's BILINEAR resize), so a downscale averages every
// source pixel instead of skipping some (no aliasing), then the per-channel normalisation.
#include <cstdint>
#include <vector>

#include "datasets/image_crop.h"

namespace qt {

// An 8-bit image, pixels interleaved: height × width × channels.
struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// dst (channels × out_h × out_w, planes then rows) = the box of src resized to out_w × out_h,
// mirrored left-right when flip, each value p/255 scaled by scale[c] (1/(255·std)) and shifted by
// shift[c] (−mean/std). The box may have fractional bounds; the image's edge pixels extend
// beyond it.
void resample_box(const Image& src, const CropBox& box, int out_w, int out_h, bool flip,
                  const float* scale, const float* shift, float* dst);

}  // namespace qt
