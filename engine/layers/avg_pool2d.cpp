#include "engine/layers/avg_pool2d.h"

#include <stdexcept>

#include "engine/core/parallel.h"

namespace qt {

AvgPool2d::AvgPool2d(std::string name, int64_t kernel, int64_t stride, int64_t padding)
    : Layer(std::move(name)), k_(kernel), s_(stride == 0 ? kernel : stride), p_(padding) {
  if (k_ < 1 || s_ < 1 || p_ < 0 || 2 * p_ > k_)
    throw std::invalid_argument(
        this->name() +
        ": average pooling needs kernel ≥ 1, stride ≥ 1 and 0 ≤ padding ≤ kernel/2, got " +
        describe());
}

std::string AvgPool2d::describe() const {
  return "AvgPool2d(k " + std::to_string(k_) + ", s " + std::to_string(s_) + ", p " +
         std::to_string(p_) + ")";
}

Shape AvgPool2d::output_shape(const Shape& in) const {
  if (in.size() != 4 || in[2] + 2 * p_ < k_ || in[3] + 2 * p_ < k_)
    throw std::invalid_argument(name() + ": expected (N, C, H, W) with H, W ≥ " +
                                std::to_string(k_ - 2 * p_) + ", got " + shape_str(in));
  return {in[0], in[1], (in[2] + 2 * p_ - k_) / s_ + 1, (in[3] + 2 * p_ - k_) / s_ + 1};
}

// y[n, c, i, j] = Σ_{a, b < k} x[n, c, i·s − p + a, j·s − p + b] / k²  (padding counts as zeros)
void AvgPool2d::forward(const Tensor& x, Tensor& y, const Context&) {
  y.resize(output_shape(x.shape()));
  const int64_t h = x.dim(2), w = x.dim(3), ho = y.dim(2), wo = y.dim(3);
  const int64_t k = k_, s = s_, p = p_;
  const float inv = 1.0f / static_cast<float>(k * k);
  parallel_for(
      x.dim(0) * x.dim(1), std::max<int64_t>(1, 16384 / (h * w)), [&](int64_t p0, int64_t p1) {
        for (int64_t pl = p0; pl < p1; ++pl) {
          const float* xp = x.data() + pl * h * w;
          float* yp = y.data() + pl * ho * wo;
          for (int64_t i = 0; i < ho; ++i) {
            const int64_t a0 = std::max<int64_t>(0, i * s - p), a1 = std::min(h, i * s - p + k);
            for (int64_t j = 0; j < wo; ++j) {
              const int64_t b0 = std::max<int64_t>(0, j * s - p), b1 = std::min(w, j * s - p + k);
              float sum = 0.0f;
              for (int64_t a = a0; a < a1; ++a)
                for (int64_t b = b0; b < b1; ++b) sum += xp[a * w + b];
              yp[i * wo + j] = sum * inv;
            }
          }
        }
      });
}

// dx[n, c, h, w] = Σ over the windows (i, j) that contain (h, w) of dy[n, c, i, j] / k²
void AvgPool2d::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  const int64_t h = x.dim(2), w = x.dim(3), ho = y.dim(2), wo = y.dim(3);
  const int64_t k = k_, s = s_, p = p_;
  const float inv = 1.0f / static_cast<float>(k * k);
  parallel_for(
      x.dim(0) * x.dim(1), std::max<int64_t>(1, 16384 / (h * w)), [&](int64_t p0, int64_t p1) {
        for (int64_t pl = p0; pl < p1; ++pl) {
          float* d = dx->data() + pl * h * w;
          const float* g = dy.data() + pl * ho * wo;
          for (int64_t i = 0; i < h * w; ++i) d[i] = 0.0f;
          for (int64_t i = 0; i < ho; ++i) {
            const int64_t a0 = std::max<int64_t>(0, i * s - p), a1 = std::min(h, i * s - p + k);
            for (int64_t j = 0; j < wo; ++j) {
              const int64_t b0 = std::max<int64_t>(0, j * s - p), b1 = std::min(w, j * s - p + k);
              const float v = g[i * wo + j] * inv;
              for (int64_t a = a0; a < a1; ++a)
                for (int64_t b = b0; b < b1; ++b) d[a * w + b] += v;
            }
          }
        }
      });
}

}  // namespace qt
