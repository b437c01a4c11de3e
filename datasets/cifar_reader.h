#pragma once
// CIFAR binary files: records of label byte(s) followed by 3 × 32 × 32 pixel bytes (the red,
// green and blue planes, each row-major), which is already N × C × H × W.
// CIFAR-10: data_batch_1..5.bin, test_batch.bin, records of 1 + 3072 bytes.
// CIFAR-100: train.bin, test.bin, records of 2 + 3072 bytes (coarse label, fine label).
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace qt {

constexpr int kCifarPixels = 3 * 32 * 32;

// Concatenates the records of `files`, in order.
Dataset read_cifar10(const std::vector<std::string>& files);
// fine = true: the 100 fine classes; false: the 20 coarse superclasses.
Dataset read_cifar100(const std::string& file, bool fine);

const std::vector<std::string>& cifar10_class_names();
const std::vector<std::string>& cifar100_class_names(bool fine);

}  // namespace qt
