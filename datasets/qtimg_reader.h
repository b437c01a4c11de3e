#pragma once
// The qtimg format: qtrain's preprocessed binary layout for image sets that have no standard
// binary form (ImageNet, converted by tools/convert_imagenet). All integers little-endian.
//   offset  size  field
//        0     8  magic "QTIMG001"
//        8     8  N, number of images (uint64)
//       16     2  C channels, 2 H height, 2 W width, 2 K classes (uint16 each)
//       24     4  reserved, 0
//       28     4  CRC-32 (zlib) of bytes 0..27
//       32    2N  labels (uint16 each, < K)
//    32+2N  NCHW  pixels (uint8, each image C × H × W, planes then rows)
// The file size must be exactly 32 + 2N + N·C·H·W.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace qt {

constexpr int kQtimgHeader = 32;

Dataset read_qtimg(const std::string& path);

// The 32-byte header for the given fields, CRC included (qtimg_bytes writes whole files).
std::vector<uint8_t> qtimg_header(uint64_t n, int channels, int height, int width, int classes);

}  // namespace qt
