#include "engine/layers/global_avg_pool.h"

#include <stdexcept>

#include "engine/core/parallel.h"

namespace qt {

Shape GlobalAvgPool::output_shape(const Shape& in) const {
  if (in.size() != 4)
    throw std::invalid_argument(name() + ": expected (N, C, H, W), got " + shape_str(in));
  return {in[0], in[1]};
}

// y[n, c] = Σ_hw x[n, c, h, w] / (H·W)
void GlobalAvgPool::forward(const Tensor& x, Tensor& y, const Context&) {
  y.resize(output_shape(x.shape()));
  const int64_t planes = y.size(), hw = x.dim(2) * x.dim(3);
  const float inv = 1.0f / static_cast<float>(hw);
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(hw, 1)),
               [&](int64_t p0, int64_t p1) {
                 for (int64_t p = p0; p < p1; ++p) {
                   const float* src = xp + p * hw;
                   float s = 0.0f;
                   for (int64_t i = 0; i < hw; ++i) s += src[i];
                   yp[p] = s * inv;
                 }
               });
}

// dx[n, c, h, w] = dy[n, c] / (H·W)
void GlobalAvgPool::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  const int64_t planes = dy.size(), hw = x.dim(2) * x.dim(3);
  const float inv = 1.0f / static_cast<float>(hw);
  const float* g = dy.data();
  float* d = dx->data();
  parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(hw, 1)),
               [&](int64_t p0, int64_t p1) {
                 for (int64_t p = p0; p < p1; ++p) {
                   const float v = g[p] * inv;
                   for (int64_t i = 0; i < hw; ++i) d[p * hw + i] = v;
                 }
               });
}

}  // namespace qt
