// The build without libjpeg-turbo: the same interface, refusing with a message saying how to get
// it.
#include "datasets/jpeg_decode.h"
#include "datasets/jpeg_encode.h"
#include "engine/core/error.h"

namespace qt {

bool jpeg_available() {
  return false;
}

std::string jpeg_unavailable_message() {
  return "this qtrain was built without libjpeg-turbo, so it cannot read JPEG folders: install "
         "it (tools/setup, or apt-get install libturbojpeg0-dev), then configure and build again "
         "(cmake with -DQTRAIN_ENABLE_JPEG=ON, the default)";
}

JpegDecoder::JpegDecoder() {
  throw DataError(jpeg_unavailable_message());
}

JpegDecoder::~JpegDecoder() = default;

void JpegDecoder::reset() {}

std::vector<JpegScale> JpegDecoder::scales() {
  return {{1, 1}};
}

void JpegDecoder::read_size(std::span<const uint8_t>, int&, int&) {
  throw DataError(jpeg_unavailable_message());
}

void JpegDecoder::decode(std::span<const uint8_t>, JpegScale, Image&, std::string&) {
  throw DataError(jpeg_unavailable_message());
}

std::vector<uint8_t> encode_jpeg(const Image&, int) {
  throw DataError(jpeg_unavailable_message());
}

}  // namespace qt
