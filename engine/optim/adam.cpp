#include "engine/optim/adam.h"

#include <cmath>

#include "engine/core/parallel.h"

namespace qt {

Adam::Adam(std::vector<Param*> params, float beta1, float beta2, float eps, float weight_decay,
           bool decay_norm)
    : params_(std::move(params)),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      weight_decay_(weight_decay),
      decay_norm_(decay_norm) {
  int64_t total = 0;
  for (Param* p : params_) {
    offsets_.push_back(total);
    total += p->value.size();
  }
  m_ = Tensor({total});
  v_ = Tensor({total});
}

void Adam::step(float lr) {
  const double t = static_cast<double>(steps_ + 1);
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1_), t));
  const float bc2_sqrt =
      static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(beta2_), t)));
  for (size_t k = 0; k < params_.size(); ++k) {
    Param& p = *params_[k];
    if (!p.trainable) continue;
    const float step_size = lr * p.lr_scale / bc1;
    const float wd = decay_for(p, weight_decay_, decay_norm_);
    float* w = p.value.data();
    const float* g = p.grad.data();
    float* m = m_.data() + offsets_[k];
    float* v = v_.data() + offsets_[k];
    parallel_for(p.value.size(), 1 << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const float d = g[i] + wd * w[i];
        m[i] = beta1_ * m[i] + (1.0f - beta1_) * d;
        v[i] = beta2_ * v[i] + (1.0f - beta2_) * d * d;
        w[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps_);
      }
    });
  }
  ++steps_;
}

std::vector<std::pair<std::string, Tensor*>> Adam::state() {
  return {{"adam.m", &m_}, {"adam.v", &v_}};
}

}  // namespace qt
