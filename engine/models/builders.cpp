#include "engine/models/builders.h"

#include "engine/core/error.h"
#include "engine/layers/batch_norm.h"
#include "engine/layers/hardtanh.h"
#include "engine/layers/relu.h"

namespace qt::models {

LayerPtr activation(Model& m, const std::string& name) {
  if (m.options.make_activation) {
    LayerPtr l = m.options.make_activation(m.params, name);
    if (!l || l->name() != name)
      throw std::logic_error("make_activation must return a layer named '" + name + "'");
    return l;
  }
  if (m.options.activation == "relu") return std::make_unique<ReLU>(name);
  if (m.options.activation == "hardtanh") return std::make_unique<Hardtanh>(name);
  throw UsageError("unknown activation '" + m.options.activation + "' (valid: relu, hardtanh)");
}

Shape shape_so_far(const Model& m, const Sequential& seq) {
  return seq.output_shape(m.input_shape(1));
}

void add_logit_bn(Model& m, bool always) {
  if (m.options.logit_bn || always) m.net->add<BatchNorm>(m.params, "logit_bn", m.options.classes);
}

}  // namespace qt::models
