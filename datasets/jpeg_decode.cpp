#include "datasets/jpeg_decode.h"

#include <turbojpeg.h>

#include <algorithm>

#include "engine/core/error.h"

namespace qt {

bool jpeg_available() {
  return true;
}

std::string jpeg_unavailable_message() {
  return "";
}

JpegDecoder::JpegDecoder() : handle_(tjInitDecompress()) {
  if (!handle_)
    throw std::runtime_error(std::string("libjpeg-turbo: cannot start a decoder: ") +
                             tjGetErrorStr2(nullptr));
}

JpegDecoder::~JpegDecoder() {
  tjDestroy(handle_);
}

// libjpeg-turbo 2.1's handle is not always usable after an error or a warning: a good file
// read next can fail ("Bogus Huffman table definition"). A fresh handle costs microseconds.
void JpegDecoder::reset() {
  tjDestroy(handle_);
  handle_ = tjInitDecompress();
  if (!handle_)
    throw std::runtime_error(std::string("libjpeg-turbo: cannot start a decoder: ") +
                             tjGetErrorStr2(nullptr));
}

std::vector<JpegScale> JpegDecoder::scales() {
  int n = 0;
  const tjscalingfactor* f = tjGetScalingFactors(&n);
  std::vector<JpegScale> out;
  for (int i = 0; f && i < n; ++i)
    if (f[i].num <= f[i].denom) out.push_back({f[i].num, f[i].denom});
  std::sort(out.begin(), out.end(), [](const JpegScale& a, const JpegScale& b) {
    return a.num * b.denom < b.num * a.denom;
  });
  return out;
}

void JpegDecoder::read_size(std::span<const uint8_t> jpeg, int& width, int& height) {
  int subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(handle_, jpeg.data(), static_cast<unsigned long>(jpeg.size()), &width,
                          &height, &subsamp, &colorspace) != 0) {
    const std::string why = tjGetErrorStr2(handle_);
    reset();
    throw BadImage("not a readable JPEG (libjpeg-turbo: " + why + ")");
  }
  // libjpeg-turbo accepts a header cut before the frame's size and reports 0 × 0.
  if (width < 1 || height < 1)
    throw BadImage("not a readable JPEG (its header is cut short: the image size is " +
                   std::to_string(width) + "×" + std::to_string(height) + ")");
}

void JpegDecoder::decode(std::span<const uint8_t> jpeg, JpegScale scale, Image& out,
                         std::string& warning) {
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(handle_, jpeg.data(), static_cast<unsigned long>(jpeg.size()), &width,
                          &height, &subsamp, &colorspace) != 0) {
    const std::string why = tjGetErrorStr2(handle_);
    reset();
    throw BadImage("not a readable JPEG (libjpeg-turbo: " + why + ")");
  }
  const tjscalingfactor f{scale.num, scale.denom};
  out.width = TJSCALED(width, f);
  out.height = TJSCALED(height, f);
  out.channels = 3;
  // libjpeg converts greyscale and YCbCr to RGB itself, but not CMYK or YCCK: those come out as
  // CMYK and are converted below.
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int format = cmyk ? TJPF_CMYK : TJPF_RGB;
  const size_t bytes = static_cast<size_t>(out.width) * out.height * (cmyk ? 4 : 3);
  out.pixels.resize(bytes);
  warning.clear();
  if (tjDecompress2(handle_, jpeg.data(), static_cast<unsigned long>(jpeg.size()),
                    out.pixels.data(), out.width, 0, out.height, format, 0) != 0) {
    const std::string why = tjGetErrorStr2(handle_);
    const bool warned = tjGetErrorCode(handle_) == TJERR_WARNING;
    reset();
    if (!warned) throw BadImage("cannot decode the JPEG (libjpeg-turbo: " + why + ")");
    warning = "decoded with a warning (libjpeg-turbo: " + why + ")";
  }
  if (!cmyk) return;
  // CMYK JPEGs (Adobe's way, which libjpeg keeps) store inverted inks: 255 = no ink. The colour
  // is then R = C·K/255 (as libjpeg-turbo's own CMYK → RGB conversion for its image tools).
  const size_t n = static_cast<size_t>(out.width) * out.height;
  for (size_t i = 0; i < n; ++i) {
    const unsigned c = out.pixels[4 * i], m = out.pixels[4 * i + 1], y = out.pixels[4 * i + 2],
                   k = out.pixels[4 * i + 3];
    out.pixels[3 * i] = static_cast<uint8_t>((c * k + 127) / 255);
    out.pixels[3 * i + 1] = static_cast<uint8_t>((m * k + 127) / 255);
    out.pixels[3 * i + 2] = static_cast<uint8_t>((y * k + 127) / 255);
  }
  out.pixels.resize(3 * n);
}

}  // namespace qt
