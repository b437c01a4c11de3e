#include "datasets/image_resample.h"

#include <algorithm>
#include <cmath>

namespace qt {

namespace {

// The taps of one output pixel along one axis: the first source index and its weights.
struct Taps {
  std::vector<int> first, count;
  std::vector<float> weights;  // `support` of them per output pixel, `count` used
  int support = 0;
};

// Output pixel o covers [start + o·step, start + (o+1)·step) of the source; the triangle filter
// has radius max(1, step) around its centre, so a shrink by s averages over about 2s pixels.
Taps make_taps(double start, double length, int out, int size) {
  Taps t;
  const double step = length / out;
  const double radius = std::max(1.0, step);
  t.support = static_cast<int>(std::ceil(radius)) * 2 + 3;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(static_cast<size_t>(out) * t.support, 0.0f);
  for (int o = 0; o < out; ++o) {
    const double centre = start + (o + 0.5) * step;
    const int lo = std::max(0, static_cast<int>(std::floor(centre - radius)));
    const int hi = std::min(size - 1, static_cast<int>(std::ceil(centre + radius)));
    float* w = &t.weights[static_cast<size_t>(o) * t.support];
    double total = 0;
    int n = 0;
    for (int i = lo; i <= hi && n < t.support; ++i, ++n) {
      const double d = std::abs((i + 0.5 - centre) / radius);
      w[n] = static_cast<float>(std::max(0.0, 1.0 - d));
      total += w[n];
    }
    // A box beyond the image (or a tiny one) may catch no positive weight: take the nearest pixel.
    if (total <= 0) {
      const int nearest = std::clamp(static_cast<int>(centre), 0, size - 1);
      t.first[o] = nearest;
      t.count[o] = 1;
      w[0] = 1.0f;
      continue;
    }
    for (int k = 0; k < n; ++k) w[k] = static_cast<float>(w[k] / total);
    t.first[o] = lo;
    t.count[o] = n;
  }
  return t;
}

}  // namespace

void resample_box(const Image& src, const CropBox& box, int out_w, int out_h, bool flip,
                  const float* scale, const float* shift, float* dst) {
  const int C = src.channels;
  const Taps tx = make_taps(box.x, box.w, out_w, src.width);
  const Taps ty = make_taps(box.y, box.h, out_h, src.height);
  // Horizontal pass over the source rows the vertical taps reach: rows × out_w × C.
  int row0 = src.height, row1 = 0;
  for (int o = 0; o < out_h; ++o) {
    row0 = std::min(row0, ty.first[o]);
    row1 = std::max(row1, ty.first[o] + ty.count[o]);
  }
  std::vector<float> rows(static_cast<size_t>(row1 - row0) * out_w * C);
  for (int r = row0; r < row1; ++r) {
    const uint8_t* in = src.pixels.data() + static_cast<size_t>(r) * src.width * C;
    float* out = rows.data() + static_cast<size_t>(r - row0) * out_w * C;
    for (int o = 0; o < out_w; ++o) {
      const float* w = &tx.weights[static_cast<size_t>(o) * tx.support];
      const uint8_t* p = in + static_cast<size_t>(tx.first[o]) * C;
      float acc[4] = {0, 0, 0, 0};
      for (int k = 0; k < tx.count[o]; ++k)
        for (int c = 0; c < C; ++c) acc[c] += w[k] * p[k * C + c];
      for (int c = 0; c < C; ++c) out[o * C + c] = acc[c];
    }
  }
  // Vertical pass, then normalise into the planes.
  const size_t plane = static_cast<size_t>(out_h) * out_w;
  for (int o = 0; o < out_h; ++o) {
    const float* w = &ty.weights[static_cast<size_t>(o) * ty.support];
    const float* base = rows.data() + static_cast<size_t>(ty.first[o] - row0) * out_w * C;
    for (int x = 0; x < out_w; ++x) {
      const int dx = flip ? out_w - 1 - x : x;
      for (int c = 0; c < C; ++c) {
        float acc = 0;
        for (int k = 0; k < ty.count[o]; ++k)
          acc += w[k] * base[(static_cast<size_t>(k) * out_w + x) * C + c];
        dst[c * plane + static_cast<size_t>(o) * out_w + dx] = acc * scale[c] + shift[c];
      }
    }
  }
}

}  // namespace qt
