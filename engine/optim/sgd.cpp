#include "engine/optim/sgd.h"

#include "engine/core/parallel.h"

namespace qt {

Sgd::Sgd(std::vector<Param*> params, float momentum, bool nesterov, float weight_decay,
         bool decay_norm)
    : params_(std::move(params)),
      momentum_(momentum),
      weight_decay_(weight_decay),
      decay_norm_(decay_norm),
      nesterov_(nesterov) {
  int64_t total = 0;
  for (Param* p : params_) {
    offsets_.push_back(total);
    total += p->value.size();
  }
  buf_ = Tensor({total});
}

void Sgd::step(float lr) {
  const bool first = steps_ == 0;
  for (size_t k = 0; k < params_.size(); ++k) {
    Param& p = *params_[k];
    if (!p.trainable) continue;
    const float plr = lr * p.lr_scale;
    const float wd = decay_for(p, weight_decay_, decay_norm_);
    float* w = p.value.data();
    const float* g = p.grad.data();
    float* b = buf_.data() + offsets_[k];
    parallel_for(p.value.size(), 1 << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        float d = g[i] + wd * w[i];
        if (momentum_ != 0.0f) {
          b[i] = first ? d : momentum_ * b[i] + d;
          d = nesterov_ ? d + momentum_ * b[i] : b[i];
        }
        w[i] -= plr * d;
      }
    });
  }
  ++steps_;
}

std::vector<std::pair<std::string, Tensor*>> Sgd::state() {
  return {{"sgd.momentum", &buf_}};
}

}  // namespace qt
