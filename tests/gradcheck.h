#pragma once
// One generic gradient checker for every layer: L = Σ y ⊙ r for a fixed random r, and each
// analytic gradient (input and every parameter) against central finite differences.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/core/param.h"
#include "engine/core/random.h"
#include "engine/layers/layer.h"

namespace qt::test {

struct GradCheck {
  double eps = 1e-2;      // finite-difference step
  double rtol = 2e-2;     // relative tolerance
  double atol = 2e-3;     // absolute tolerance, for gradients near zero
  int max_entries = 150;  // entries checked per tensor (spread evenly)
  bool training = true;
  float input_scale = 1.0f;
};

inline double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * r[i];
  return s;
}

// `layer` must already be built on `store` (finalized and initialised by the caller, or here).
inline void check_gradients(Layer& layer, ParamStore& store, const Shape& in_shape,
                            uint64_t seed = 1, GradCheck opt = {}) {
  Rng rng(seed);
  if (!store.finalized()) {
    store.finalize();
    layer.init(rng);
  }
  Context ctx;
  ctx.training = opt.training;
  ctx.noise_key = 12345;
  Tensor x(in_shape);
  for (float& v : x.span()) v = rng.normal() * opt.input_scale;
  Tensor y;
  layer.forward(x, y, ctx);
  Tensor r(y.shape());
  for (float& v : r.span()) v = rng.normal();
  Tensor dx;
  store.zero_grad();
  layer.backward(x, y, r, &dx);
  REQUIRE(dx.shape() == x.shape());

  auto loss_at = [&]() {
    Tensor yy;
    layer.forward(x, yy, ctx);
    return weighted_sum(yy, r);
  };
  auto check_tensor = [&](const std::string& what, float* values, const float* analytic,
                          int64_t n) {
    int64_t step = std::max<int64_t>(1, n / opt.max_entries);
    int bad = 0;
    for (int64_t i = 0; i < n; i += step) {
      float saved = values[i];
      values[i] = static_cast<float>(saved + opt.eps);
      double lp = loss_at();
      values[i] = static_cast<float>(saved - opt.eps);
      double lm = loss_at();
      values[i] = saved;
      double numeric = (lp - lm) / (2 * opt.eps);
      double a = analytic[i];
      if (std::abs(a - numeric) > opt.atol + opt.rtol * std::max(std::abs(a), std::abs(numeric))) {
        if (++bad <= 5)
          FAIL_CHECK(layer.describe() << ": d/d" << what << "[" << i << "] analytic " << a
                                      << " vs numeric " << numeric);
      }
    }
    CHECK_MESSAGE(bad == 0, layer.describe() << ": " << bad << " mismatches in d/d" << what);
  };
  check_tensor("x", x.data(), dx.data(), x.size());
  for (Param* p : layer.params()) {
    // Perturb the tensor the layer reads (used), compare with the gradient it wrote.
    Tensor analytic = Tensor(p->shape);
    analytic.copy_from(p->grad);
    check_tensor(p->name, p->used.data(), analytic.data(), p->used.size());
  }
}

}  // namespace qt::test
