#include "datasets/qtimg_reader.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>

#include "datasets/byte_reader.h"
#include "engine/core/error.h"

namespace qt {

namespace {

constexpr char kMagic[9] = "QTIMG001";

uint64_t le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

void put(std::vector<uint8_t>& out, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

std::vector<uint8_t> qtimg_header(uint64_t n, int channels, int height, int width, int classes) {
  std::vector<uint8_t> h(kQtimgHeader, 0);
  std::memcpy(h.data(), kMagic, 8);
  put(h, 8, n, 8);
  put(h, 16, static_cast<uint64_t>(channels), 2);
  put(h, 18, static_cast<uint64_t>(height), 2);
  put(h, 20, static_cast<uint64_t>(width), 2);
  put(h, 22, static_cast<uint64_t>(classes), 2);
  put(h, 28, crc32(0L, h.data(), 28), 4);
  return h;
}

Dataset read_qtimg(const std::string& path) {
  ByteReader in(path, "a qtimg file (magic QTIMG001)");
  uint8_t h[kQtimgHeader];
  in.read_exact(h, kQtimgHeader, "the 32-byte qtimg header");
  if (std::memcmp(h, kMagic, 8) != 0) {
    std::string found;
    for (int i = 0; i < 8; ++i) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%02x", h[i]);
      found += buf;
    }
    in.fail(
        "wrong magic at byte offset 0: expected \"QTIMG001\" (51 54 49 4d 47 30 30 31), found " +
        found);
  }
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, h, 28));
  if (le(h + 28, 4) != crc)
    in.fail("corrupt header: expected the CRC-32 at byte offset 28 to match bytes 0..27, found " +
            std::to_string(le(h + 28, 4)) + " instead of " + std::to_string(crc));
  const uint64_t n = le(h + 8, 8);
  Dataset d;
  d.channels = static_cast<int>(le(h + 16, 2));
  d.height = static_cast<int>(le(h + 18, 2));
  d.width = static_cast<int>(le(h + 20, 2));
  d.classes = static_cast<int>(le(h + 22, 2));
  d.source = path;
  if (n == 0 || d.channels == 0 || d.height == 0 || d.width == 0 || d.classes < 2 ||
      le(h + 24, 4) != 0)
    in.fail("bad header: expected N, C, H, W ≥ 1, K ≥ 2 and a zero reserved field, found N=" +
            std::to_string(n) + " C=" + std::to_string(d.channels) +
            " H=" + std::to_string(d.height) + " W=" + std::to_string(d.width) +
            " K=" + std::to_string(d.classes) + " reserved=" + std::to_string(le(h + 24, 4)));
  // N is 64-bit: bound it by the file before multiplying, so the products cannot overflow.
  const uint64_t per_image = 2 + static_cast<uint64_t>(d.sample_size());
  if (!in.gzip() && n > (in.file_size() - kQtimgHeader) / per_image)
    in.fail("truncated: expected " + std::to_string(n) + " images of " + std::to_string(per_image) +
            " bytes (label + pixels) after the 32-byte header, as "
            "the header says at byte offset 8, found a file of " +
            std::to_string(in.file_size()) + " bytes, which holds " +
            std::to_string((in.file_size() - kQtimgHeader) / per_image));
  if (n > (uint64_t{1} << 40) / per_image)
    in.fail("bad header: expected at most 2^40 bytes of data, found N=" + std::to_string(n) +
            " images of " + std::to_string(per_image) + " bytes");
  const std::string pix = std::to_string(n) + " images of " + std::to_string(d.channels) + "×" +
                          std::to_string(d.height) + "×" + std::to_string(d.width) +
                          " pixels (as the header says)";
  in.declare_size(kQtimgHeader + n * per_image, pix);
  std::vector<uint8_t> raw_labels;
  const std::string what = std::to_string(n) + " labels (as the header says)";
  in.read_append(raw_labels, 2 * n, what);
  d.labels.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(le(raw_labels.data() + 2 * i, 2));
    if (label >= d.classes)
      in.fail("label out of range at byte offset " + std::to_string(32 + 2 * i) + " (image " +
              std::to_string(i) + "): expected a class in [0, " + std::to_string(d.classes) +
              "), found " + std::to_string(label));
    d.labels[i] = label;
  }
  in.read_append(d.pixels, n * d.sample_size(), pix);
  in.expect_end(pix);
  return d;
}

}  // namespace qt
