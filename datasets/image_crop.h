#pragma once
// Which part of an image a sample shows: torchvision's RandomResizedCrop box for training and
// the Resize + CenterCrop box for evaluation, both in the source image's pixels.
#include <cstdint>

namespace qt {

struct CropBox {
  double x = 0, y = 0, w = 0, h = 0;  // left, top, width, height
};

// RandomResizedCrop.get_params(scale=(min_scale, 1), ratio=(3/4, 4/3)): up to 10 draws of an
// area fraction and a log-uniform aspect ratio, the first box that fits taken at a uniform
// integer position; else the whole image clipped to the ratio range, centred. Draw k of the
// sample is uniform_at(key, k), so the box depends on (key) alone.
CropBox random_resized_crop(int width, int height, double min_scale, uint64_t key);

// Resize(resize) of the shorter side, then CenterCrop(out_w × out_h): the same region taken from
// the original image (up to torchvision's rounding of the resized size to whole pixels).
CropBox centre_crop(int width, int height, int resize, int out_w, int out_h);

}  // namespace qt
