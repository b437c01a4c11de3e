#pragma once
// An ImageNet-layout folder of JPEGs the tests write themselves with libjpeg-turbo: colour files
// of several sizes (some smaller than the crops, some odd), a greyscale and a CMYK one, and the
// broken kinds a real crawl holds (truncated, not a JPEG, empty, PNG).
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/dataset_writers.h"
#include "datasets/jpeg_encode.h"

namespace qt::testing {

// A solid-colour image (1, 3 or 4 channels), or a horizontal gradient when `gradient`.
inline Image test_image(int width, int height, std::vector<uint8_t> colour, bool gradient = false) {
  Image im;
  im.width = width;
  im.height = height;
  im.channels = static_cast<int>(colour.size());
  im.pixels.resize(static_cast<size_t>(width) * height * im.channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < im.channels; ++c)
        im.pixels[(static_cast<size_t>(y) * width + x) * im.channels + c] =
            gradient ? static_cast<uint8_t>(x * 255 / std::max(1, width - 1)) : colour[c];
  return im;
}

inline void write_jpeg(const std::filesystem::path& p, const Image& im, int quality = 90) {
  std::filesystem::create_directories(p.parent_path());
  write_bytes(p.string(), encode_jpeg(im, quality));
}

// The good files of one class folder: colour images of several sizes, all of `colour`.
inline void write_good_class(const std::filesystem::path& dir, std::vector<uint8_t> colour) {
  write_jpeg(dir / "a.JPEG", test_image(300, 200, colour));
  write_jpeg(dir / "b.jpg", test_image(500, 375, colour));
  write_jpeg(dir / "c.jpeg", test_image(17, 23, colour));  // smaller than any crop, odd
  write_jpeg(dir / "d.JPEG", test_image(257, 129, colour));
}

// ROOT/train/{blue,red}/ and ROOT/val/{blue,red}/: red (class 1) holds the broken files too.
// Colours: blue = (20, 40, 220), red = (220, 30, 30).
inline void write_jpeg_folder(const std::filesystem::path& root, bool broken) {
  for (const char* split : {"train", "val"}) {
    write_good_class(root / split / "blue", {20, 40, 220});
    write_good_class(root / split / "red", {220, 30, 30});
  }
  if (!broken) return;
  const std::filesystem::path red = root / "train" / "red";
  write_jpeg(red / "grey.JPEG", test_image(64, 48, {128}));
  // Inverted CMYK (255 = no ink): C·K/255 = 220, M·K/255 = 30, Y·K/255 = 30 with K = 255.
  write_jpeg(red / "cmyk.JPEG", test_image(80, 80, {220, 30, 30, 255}));
  const std::vector<uint8_t> whole = encode_jpeg(test_image(300, 300, {220, 30, 30}, true), 90);
  write_bytes((red / "e_truncated_header.JPEG").string(),
              std::vector<uint8_t>(whole.begin(), whole.begin() + 100));
  write_bytes((red / "f_not_a_jpeg.JPEG").string(), std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o'});
  write_bytes((red / "g_empty.JPEG").string(), {});
  write_bytes((red / "h_image.png").string(),
              std::vector<uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0});
  write_bytes((red / "readme.txt").string(), std::vector<uint8_t>{'x'});
}

}  // namespace qt::testing
