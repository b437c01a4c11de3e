#include "engine/layers/hardtanh.h"

#include <stdexcept>

#include "engine/core/parallel.h"

namespace qt {

static constexpr int64_t kGrain = 1 << 15;

Hardtanh::Hardtanh(std::string name, float lo, float hi)
    : Layer(std::move(name)), lo_(lo), hi_(hi) {
  if (!(lo < hi))
    throw std::invalid_argument(this->name() + ": hardtanh needs lo < hi, got lo " +
                                std::to_string(lo) + ", hi " + std::to_string(hi));
}

std::string Hardtanh::describe() const {
  return "Hardtanh(" + std::to_string(lo_) + ", " + std::to_string(hi_) + ")";
}

// y = min(max(x, lo), hi)
void Hardtanh::forward(const Tensor& x, Tensor& y, const Context&) {
  y.resize(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  const float lo = lo_, hi = hi_;
  parallel_for(x.size(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) yp[i] = xp[i] < lo ? lo : (xp[i] > hi ? hi : xp[i]);
  });
}

// dx = dy·[lo < x < hi]  (PyTorch's convention at the corners)
void Hardtanh::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  const float* xp = x.data();
  const float* g = dy.data();
  float* d = dx->data();
  const float lo = lo_, hi = hi_;
  parallel_for(x.size(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float gi = g[i], xi = xp[i];  // unconditional loads: a vectorised select
      d[i] = (xi > lo) & (xi < hi) ? gi : 0.0f;
    }
  });
}

}  // namespace qt
