#include "engine/quant/sign_activation.h"

#include <cmath>

#include "engine/core/parallel.h"

namespace qt {

static constexpr int64_t kGrain = 1 << 15;

SignActivation::SignActivation(std::string name, SignBackward backward)
    : Layer(std::move(name)), backward_(backward) {}

std::string SignActivation::describe() const {
  return backward_ == SignBackward::Hardtanh ? "Sign(hardtanh STE)" : "Sign(Bi-Real STE)";
}

// y = sign(x), sign(0) = +1
void SignActivation::forward(const Tensor& x, Tensor& y, const Context&) {
  y.resize(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.size(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) yp[i] = xp[i] >= 0.0f ? 1.0f : -1.0f;
  });
}

void SignActivation::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  const float* xp = x.data();
  const float* g = dy.data();
  float* d = dx->data();
  if (backward_ == SignBackward::Hardtanh) {
    // dx = dy·[|x| ≤ 1]
    parallel_for(x.size(), kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) d[i] = std::fabs(xp[i]) <= 1.0f ? g[i] : 0.0f;
    });
  } else {
    // dx = dy·(2 − 2|x|)·[|x| < 1]
    parallel_for(x.size(), kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const float a = std::fabs(xp[i]);
        d[i] = a < 1.0f ? g[i] * (2.0f - 2.0f * a) : 0.0f;
      }
    });
  }
}

}  // namespace qt
