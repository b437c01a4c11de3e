#pragma once
// A float32 tensor as a NumPy .npy file (format version 1.0): what `qtrain eval --logits` writes,
// so that NumPy, PyTorch and ONNX Runtime users read qtrain's logits with one call.
#include <string>

#include "engine/core/tensor.h"

namespace qt {

// The file's bytes: the magic, the header {'descr': '<f4', 'fortran_order': False, 'shape': …}
// padded with spaces to a multiple of 64 bytes, then the values, little-endian, in C order.
std::string npy_bytes(const Tensor& t);

}  // namespace qt
