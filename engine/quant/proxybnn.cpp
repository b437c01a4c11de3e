#include "engine/quant/proxybnn.h"

#include <cmath>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/kernels/gemm.h"

namespace qt {

int64_t proxy_row_length(const Shape& s, int max_dim) {
  if (s.size() == 4) return s[2] * s[3];
  if (s.size() == 2) {
    // the largest divisor of the input size that is ≤ max_dim
    for (int64_t d = std::min<int64_t>(max_dim, s[1]); d >= 1; --d)
      if (s[1] % d == 0) return d;
  }
  throw UsageError("proxybnn: cannot view a weight of shape " + shape_str(s) + " as rows");
}

void proxy_combine(const float* c, const float* p, int64_t rows, int64_t d, float* wt) {
  // W̃ (R × d) = C (R × d) · P (d × d)
  gemm(false, false, rows, d, d, 1.0f, c, d, p, d, 0.0f, wt, d);
}

void proxy_backward(const float* c, const float* p, const float* dwt, int64_t rows, int64_t d,
                    float* dc, float* dp) {
  // dC (R × d) = dW̃ · Pᵀ
  gemm(false, true, rows, d, d, 1.0f, dwt, d, p, d, 0.0f, dc, d);
  // dP (d × d) = Cᵀ · dW̃, summed over the R rows
  gemm(true, false, d, d, rows, 1.0f, c, d, dwt, d, 0.0f, dp, d);
}

void ProxyBnn::on_attach(Model&) {
  for (QuantTarget& t : targets_) {
    const int64_t d = proxy_row_length(t.param->shape, opt_.proxy_dim);
    dims_.push_back(d);
    Param* p = store_.add("proxy." + t.layer(), "P", {d, d}, ParamRole::Weight);
    p->decay = false;  // at the full rate and with decay the proxy matrices diverge
    p->lr_scale = static_cast<float>(opt_.proxy_lr);
    proxies_.push_back(p);
    wt_.emplace_back(t.param->shape);
  }
  store_.finalize();
  // P = I: W̃ starts equal to the float weights
  for (size_t i = 0; i < proxies_.size(); ++i) {
    Tensor& p = proxies_[i]->value;
    p.zero();
    for (int64_t k = 0; k < dims_[i]; ++k) p[k * dims_[i] + k] = 1.0f;
  }
}

const Tensor& ProxyBnn::latent(QuantTarget& t) {
  const size_t i = &t - targets_.data();
  const int64_t d = dims_[i];
  proxy_combine(t.param->value.data(), proxies_[i]->value.data(), t.param->value.size() / d, d,
                wt_[i].data());
  return wt_[i];
}

void ProxyBnn::before_forward() {
  for (QuantTarget& t : targets_) {
    project(t);
    use(t, t.q);
  }
}

void ProxyBnn::adjust_gradients() {
  for (size_t i = 0; i < targets_.size(); ++i) {
    QuantTarget& t = targets_[i];
    const int64_t n = t.param->grad.size(), d = dims_[i];
    dwt_.resize({n});
    const float* g = t.param->grad.data();
    const float* w = wt_[i].data();
    float* dw = dwt_.data();
    // dW̃ = dW_b·[|W̃| ≤ 1]
    parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t k = i0; k < i1; ++k) dw[k] = std::fabs(w[k]) <= 1.0f ? g[k] : 0.0f;
    });
    proxy_backward(t.param->value.data(), proxies_[i]->value.data(), dw, n / d, d,
                   t.param->grad.data(), proxies_[i]->grad.data());
  }
}

}  // namespace qt
