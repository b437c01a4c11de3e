#pragma once
// Optimizers update the float masters of a list of parameters from their gradients, with
// PyTorch's exact update rules (so that recipes transfer). State lives in one arena per slot,
// parallel to the parameter arena, so a checkpoint saves it as a few tensors.
#include <memory>
#include <string>
#include <vector>

#include "engine/core/param.h"

namespace qt {

struct OptimizerOptions {
  std::string name = "sgd";   // "sgd" | "adam"
  float momentum = 0.9f;      // SGD
  bool nesterov = false;      // SGD
  float weight_decay = 0.0f;  // L2 added to the gradient (PyTorch's weight_decay, not AdamW)
  // BatchNorm's γ and β decay too, as PyTorch's optimizers do with every parameter they are given
  // (and the papers' code gives them all); false exempts them.
  bool decay_norm = true;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // Adam
};

// The weight decay that applies to `p`: none for a parameter exempt by construction (ProxyBNN's
// P), none for BatchNorm's γ and β unless `decay_norm`.
inline float decay_for(const Param& p, float weight_decay, bool decay_norm) {
  if (!p.decay || (p.role == ParamRole::Norm && !decay_norm)) return 0.0f;
  return weight_decay;
}

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every trainable parameter at learning rate lr (times each parameter's lr_scale).
  virtual void step(float lr) = 0;
  // Named state tensors (momentum buffers, moments), for checkpoints.
  virtual std::vector<std::pair<std::string, Tensor*>> state() = 0;
  int64_t steps() const { return steps_; }
  void set_steps(int64_t s) { steps_ = s; }

 protected:
  int64_t steps_ = 0;
};

// Throws UsageError on an unknown name.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& opt, std::vector<Param*> params);

}  // namespace qt
