#pragma once
// JPEG decoding with libjpeg-turbo's TurboJPEG API, to 8-bit RGB whatever the file's colour
// space (greyscale replicated, CMYK/YCCK converted), at a reduced size when asked: libjpeg-turbo
// scales by n/8 inside the inverse DCT, far cheaper than decoding the full image and shrinking.
// A build without libjpeg-turbo (QTRAIN_ENABLE_JPEG=OFF, or libturbojpeg0-dev missing) has
// jpeg_available() false, and a JpegDecoder throws DataError saying how to get it.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "datasets/image_resample.h"

namespace qt {

bool jpeg_available();
// The message a build without libjpeg-turbo gives when asked for JPEG files.
std::string jpeg_unavailable_message();

// A file that cannot be used as an image; what() says why (the caller adds the file's name).
struct BadImage : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A reduction num/denom ≤ 1 that the decoder offers, e.g. 1/2: a W-pixel-wide image decodes to
// ceil(W·num/denom) pixels.
struct JpegScale {
  int num = 1, denom = 1;
};

// One decoder per thread: it holds libjpeg-turbo's state between images.
class JpegDecoder {
 public:
  JpegDecoder();
  ~JpegDecoder();
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  // The image's full size; throws BadImage when the data is not a JPEG this decoder reads.
  void read_size(std::span<const uint8_t> jpeg, int& width, int& height);
  // Decodes at `scale` into `out` (3 channels). A warning of libjpeg (e.g. data ending early:
  // the rest of the image is grey) sets `warning` to its text and still decodes; an error throws
  // BadImage.
  void decode(std::span<const uint8_t> jpeg, JpegScale scale, Image& out, std::string& warning);

  // The reductions offered, smallest image first (1/8 … 1/1).
  static std::vector<JpegScale> scales();

 private:
  void reset();  // a fresh handle, after an error or a warning
  void* handle_ = nullptr;
};

}  // namespace qt
