#pragma once
// Encoders for every format qtrain reads: they make the test files in the exact layouts
// (CIFAR and ImageNet cannot be downloaded here) and let a user export a dataset.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace qt {

std::vector<uint8_t> idx_images_bytes(const Dataset& d);  // requires 1 channel
std::vector<uint8_t> idx_labels_bytes(const Dataset& d);
// CIFAR-10 records (1 label byte), or CIFAR-100 records when `coarse` is given (coarse, fine).
std::vector<uint8_t> cifar_bytes(const Dataset& d, const std::vector<int32_t>* coarse = nullptr);
std::vector<uint8_t> qtimg_bytes(const Dataset& d);
std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& raw);

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> read_bytes(const std::string& path);  // raw bytes, no decompression

}  // namespace qt
