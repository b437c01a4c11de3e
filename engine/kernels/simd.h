#pragma once
// Portable SIMD vectors: GCC's vector types in 8-float halves, one register of every x86-64-v3
// CPU (without 512-bit registers, GCC moves 16-lane vectors through memory, 2–5× slower). Loops
// over them vectorise without reassociating a sum, which a plain float loop may not do.
#include <cstring>

namespace qt {

using F8 = float __attribute__((vector_size(32)));
using D4 = double __attribute__((vector_size(32)));

inline F8 load8(const float* p) {
  F8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace qt
