#pragma once
// IDX files (MNIST, Fashion-MNIST, KMNIST and every MNIST-layout set), raw or gzip:
// images 0x00000803 (unsigned bytes, N × H × W), labels 0x00000801 (unsigned bytes, N),
// all header integers big-endian.
#include <string>

#include "datasets/dataset.h"

namespace qt {

// Reads an image file and its label file into one dataset of N × 1 × H × W. classes = 0 takes
// the largest label + 1. Throws DataError naming the file for any inconsistency.
Dataset read_idx(const std::string& images_path, const std::string& labels_path, int classes);

}  // namespace qt
