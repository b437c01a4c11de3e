#include "engine/layers/relu.h"

#include "engine/core/parallel.h"

namespace qt {

// Elements per task: large enough to amortise a task, small enough to share a big tensor.
static constexpr int64_t kGrain = 1 << 15;

// y = max(x, 0)  (NaN propagates, so divergence stays visible)
void ReLU::forward(const Tensor& x, Tensor& y, const Context&) {
  y.resize(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.size(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) yp[i] = xp[i] < 0.0f ? 0.0f : xp[i];
  });
}

// dx = dy·[x > 0]
void ReLU::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  const float* xp = x.data();
  const float* g = dy.data();
  float* d = dx->data();
  parallel_for(x.size(), kGrain, [&](int64_t i0, int64_t i1) {
    // Both loads unconditional, so the select vectorises instead of branching per element.
    for (int64_t i = i0; i < i1; ++i) {
      const float gi = g[i];
      d[i] = xp[i] > 0.0f ? gi : 0.0f;
    }
  });
}

}  // namespace qt
