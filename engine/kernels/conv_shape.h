#pragma once
// The sizes of one 2-d convolution over NCHW with square kernels, shared by every algorithm:
// x (N, Cin, H, W), W (Cout, Cin, k, k), y (N, Cout, Ho, Wo), Ho = (H + 2p − k)/s + 1.
#include <cstdint>

namespace qt {

struct ConvShape {
  int64_t n, cin, cout, h, w, k, stride, pad;
  int64_t ho() const { return (h + 2 * pad - k) / stride + 1; }
  int64_t wo() const { return (w + 2 * pad - k) / stride + 1; }
};

}  // namespace qt
