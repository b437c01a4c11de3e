#pragma once
// Max pooling of packed signs (pack_signs' layout, [n][h][w][words]): the maximum of values in
// {−1, +1} is +1 when any of them is, so
//   y[n, i, j] = OR over the window's taps inside the image of x[n, i·s − p + a, j·s − p + b]
// word by word (max pooling's padding never wins a maximum, so taps outside add nothing).
// Ho = (H + 2p − k)/s + 1 as MaxPool2d. Work is split over (sample, output row).
#include <cstdint>
#include <vector>

namespace qt {

void or_pool(const uint64_t* x, int64_t n, int64_t h, int64_t w, int64_t words, int64_t k,
             int64_t stride, int64_t pad, std::vector<uint64_t>& y);

}  // namespace qt
