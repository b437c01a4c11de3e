#include "datasets/image_crop.h"

#include <algorithm>
#include <cmath>

#include "engine/core/random.h"

namespace qt {

CropBox random_resized_crop(int width, int height, double min_scale, uint64_t key) {
  const double area = static_cast<double>(width) * height;
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  for (uint64_t attempt = 0; attempt < 10; ++attempt) {
    const uint64_t k = 4 * attempt;
    const double target = area * (min_scale + (1.0 - min_scale) * uniform_at(key, k));
    const double ratio = std::exp(log_lo + (log_hi - log_lo) * uniform_at(key, k + 1));
    const int w = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      // torch.randint(0, n + 1): an integer position, each equally likely.
      const int y =
          std::min(height - h, static_cast<int>(uniform_at(key, k + 2) * (height - h + 1)));
      const int x = std::min(width - w, static_cast<int>(uniform_at(key, k + 3) * (width - w + 1)));
      return {double(x), double(y), double(w), double(h)};
    }
  }
  // The fallback: the whole image, cut to the nearest allowed aspect ratio.
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < 3.0 / 4.0)
    h = static_cast<int>(std::lround(w / (3.0 / 4.0)));
  else if (in_ratio > 4.0 / 3.0)
    w = static_cast<int>(std::lround(h * (4.0 / 3.0)));
  return {double((width - w) / 2), double((height - h) / 2), double(w), double(h)};
}

CropBox centre_crop(int width, int height, int resize, int out_w, int out_h) {
  // The resized image is `resize` on its shorter side: one resized pixel is `r` source pixels.
  const double r = static_cast<double>(std::min(width, height)) / resize;
  const double w = std::min<double>(out_w * r, width), h = std::min<double>(out_h * r, height);
  return {(width - w) / 2, (height - h) / 2, w, h};
}

}  // namespace qt
