#pragma once
// JPEG encoding with libjpeg-turbo, for the tests and benchmarks that make their own image
// folders (greyscale, CMYK and colour files of any size) instead of depending on a download.
#include <cstdint>
#include <vector>

#include "datasets/image_resample.h"

namespace qt {

// `image` holds 1 (greyscale), 3 (RGB) or 4 (CMYK, inverted as Adobe stores it: 255 = no ink)
// channels; the result is a baseline JPEG at `quality` (1..100), 4:2:0 for RGB. Throws
// std::runtime_error on failure, DataError in a build without libjpeg-turbo.
std::vector<uint8_t> encode_jpeg(const Image& image, int quality);

}  // namespace qt
