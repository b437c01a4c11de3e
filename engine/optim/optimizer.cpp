#include "engine/optim/optimizer.h"

#include "engine/core/error.h"
#include "engine/optim/adam.h"
#include "engine/optim/sgd.h"

namespace qt {

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& o, std::vector<Param*> params) {
  if (o.name == "sgd")
    return std::make_unique<Sgd>(std::move(params), o.momentum, o.nesterov, o.weight_decay,
                                 o.decay_norm);
  if (o.name == "adam")
    return std::make_unique<Adam>(std::move(params), o.beta1, o.beta2, o.eps, o.weight_decay,
                                  o.decay_norm);
  throw UsageError("unknown optimizer '" + o.name + "': expected sgd or adam");
}

}  // namespace qt
