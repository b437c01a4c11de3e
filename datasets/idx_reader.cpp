#include "datasets/idx_reader.h"

#include <cstdio>

#include "datasets/byte_reader.h"

namespace qt {

namespace {

uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

std::string describe_magic(uint32_t m) {
  if (m == 0x00000803) return " (IDX images)";
  if (m == 0x00000801) return " (IDX labels)";
  if ((m >> 16) == 0 && (m >> 8 & 0xff) != 0x08) return " (IDX, but not unsigned bytes)";
  return "";
}

// Reads the magic number and `ndims` dimensions; returns the dimensions.
std::vector<uint32_t> read_header(ByteReader& in, uint32_t magic, const char* kind) {
  uint8_t head[4];
  in.read_exact(head, 4, "the IDX magic number");
  const uint32_t found = be32(head);
  if (found != magic)
    in.fail("wrong magic number at byte offset 0: expected " + hex32(magic) + " (IDX " + kind +
            "), found " + hex32(found) + describe_magic(found));
  const int ndims = static_cast<int>(magic & 0xff);
  std::vector<uint32_t> dims(ndims);
  for (int i = 0; i < ndims; ++i) {
    in.read_exact(head, 4, "dimension " + std::to_string(i) + " of the IDX header");
    dims[i] = be32(head);
    if (dims[i] == 0)
      in.fail("bad IDX header at byte offset " + std::to_string(4 + 4 * i) +
              ": expected dimension " + std::to_string(i) + " ≥ 1, found 0");
  }
  return dims;
}

}  // namespace

Dataset read_idx(const std::string& images_path, const std::string& labels_path, int classes) {
  Dataset d;
  d.source = images_path + ", " + labels_path;
  {
    ByteReader in(images_path, "an IDX image file (magic 0x00000803)");
    const std::vector<uint32_t> dims =
        read_header(in, 0x00000803, "images: unsigned bytes, 3 dimensions");
    // 65535 is far above any image size in use and keeps N·H·W within 64 bits.
    for (int i = 1; i < 3; ++i)
      if (dims[i] > 65535)
        in.fail("bad IDX header at byte offset " + std::to_string(4 + 4 * i) +
                ": expected an image side ≤ 65535, found " + std::to_string(dims[i]));
    d.channels = 1;
    d.height = static_cast<int>(dims[1]);
    d.width = static_cast<int>(dims[2]);
    const uint64_t n = dims[0];
    // N ≤ 2^32 and H·W < 2^32 could overflow 64 bits: bound N·H·W at 2^48 bytes first.
    const uint64_t per_image = uint64_t{dims[1]} * dims[2];
    if (n > (uint64_t{1} << 48) / per_image)
      in.fail("bad IDX header at byte offset 4: expected at most 2^48 bytes of images, found " +
              std::to_string(n) + " images of " + std::to_string(dims[1]) + "×" +
              std::to_string(dims[2]) + " pixels");
    const uint64_t bytes = n * per_image;
    const std::string what = std::to_string(n) + " images of " + std::to_string(dims[1]) + "×" +
                             std::to_string(dims[2]) + " pixels (as the header says)";
    in.declare_size(16 + bytes, what);
    in.read_append(d.pixels, bytes, what);
    in.expect_end(what);
  }
  {
    ByteReader in(labels_path, "an IDX label file (magic 0x00000801)");
    const std::vector<uint32_t> dims =
        read_header(in, 0x00000801, "labels: unsigned bytes, 1 dimension");
    const uint64_t n_images = d.pixels.size() / d.sample_size();
    if (dims[0] != n_images)
      in.fail("image/label count mismatch at byte offset 4: expected " + std::to_string(n_images) +
              " labels, one per image of " + images_path + ", found " + std::to_string(dims[0]));
    std::vector<uint8_t> raw;
    const std::string what = std::to_string(dims[0]) + " labels (as the header says)";
    in.declare_size(8 + uint64_t{dims[0]}, what);
    in.read_append(raw, dims[0], what);
    in.expect_end(what);
    int max_label = 0;
    for (uint8_t v : raw) max_label = std::max<int>(max_label, v);
    if (classes <= 0) classes = max_label + 1;
    for (size_t i = 0; i < raw.size(); ++i)
      if (raw[i] >= classes)
        in.fail("label out of range at byte offset " + std::to_string(8 + i) + " (sample " +
                std::to_string(i) + "): expected a class in [0, " + std::to_string(classes) +
                "), found " + std::to_string(raw[i]));
    d.classes = classes;
    d.labels.assign(raw.begin(), raw.end());
  }
  return d;
}

}  // namespace qt
