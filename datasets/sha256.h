#pragma once
// SHA-256 (FIPS 180-4), to check dataset files against their published digests.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace qt {

class Sha256 {
 public:
  Sha256();
  void update(const uint8_t* data, size_t n);
  std::string hex();  // finishes the hash: call once, after the last update

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  uint8_t buf_[64];
  size_t used_ = 0;
  uint64_t total_ = 0;
};

}  // namespace qt
