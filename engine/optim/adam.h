#pragma once
#include "engine/optim/optimizer.h"

namespace qt {

// PyTorch's Adam (L2 weight decay added to the gradient):
// m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  w −= lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε)
class Adam : public Optimizer {
 public:
  Adam(std::vector<Param*> params, float beta1, float beta2, float eps, float weight_decay,
       bool decay_norm);
  void step(float lr) override;
  std::vector<std::pair<std::string, Tensor*>> state() override;

 private:
  std::vector<Param*> params_;
  std::vector<int64_t> offsets_;
  float beta1_, beta2_, eps_, weight_decay_;
  bool decay_norm_;
  Tensor m_, v_;
};

}  // namespace qt
