#pragma once
#include "engine/optim/optimizer.h"

namespace qt {

// PyTorch's SGD: g = ∇ + wd·w;  b = μ·b + g (b = g at the first step);
// w −= lr·(g + μ·b) with Nesterov, w −= lr·b without.
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Param*> params, float momentum, bool nesterov, float weight_decay,
      bool decay_norm);
  void step(float lr) override;
  std::vector<std::pair<std::string, Tensor*>> state() override;

 private:
  std::vector<Param*> params_;
  std::vector<int64_t> offsets_;  // each parameter's place in the momentum arena
  float momentum_, weight_decay_;
  bool decay_norm_;
  bool nesterov_;
  Tensor buf_;
};

}  // namespace qt
