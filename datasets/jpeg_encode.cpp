#include "datasets/jpeg_encode.h"

#include <turbojpeg.h>

#include <stdexcept>
#include <string>

namespace qt {

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  int format = TJPF_RGB, subsamp = TJSAMP_420;
  if (image.channels == 1) {
    format = TJPF_GRAY;
    subsamp = TJSAMP_GRAY;
  } else if (image.channels == 4) {
    format = TJPF_CMYK;  // stored as YCCK
    subsamp = TJSAMP_444;
  } else if (image.channels != 3) {
    throw std::invalid_argument("encode_jpeg: expected 1, 3 or 4 channels, found " +
                                std::to_string(image.channels));
  }
  tjhandle h = tjInitCompress();
  if (!h) throw std::runtime_error("libjpeg-turbo: cannot start an encoder");
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(h, image.pixels.data(), image.width, 0, image.height, format, &buf,
                             &size, subsamp, quality, 0);
  const std::string why = rc != 0 ? tjGetErrorStr2(h) : "";
  std::vector<uint8_t> out;
  if (rc == 0) out.assign(buf, buf + size);
  tjFree(buf);
  tjDestroy(h);
  if (rc != 0) throw std::runtime_error("libjpeg-turbo: cannot encode: " + why);
  return out;
}

}  // namespace qt
