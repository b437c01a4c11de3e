// MLP 784-300-100-10 (LeCun et al. 1998's 300-100 network), optionally with a BatchNorm after each
// hidden linear layer (mlp-bn, as Iterative Training's MLP has). The input size follows the images.
#include "engine/layers/batch_norm.h"
#include "engine/layers/flatten.h"
#include "engine/layers/linear.h"
#include "engine/models/builders.h"

namespace qt::models {

void build_mlp(Model& m, bool bn) {
  Sequential& s = *m.net;
  const int64_t in = m.options.in_channels * m.options.height * m.options.width;
  const int64_t widths[] = {in, 300, 100};
  s.add<Flatten>("flatten");
  for (int i = 1; i <= 2; ++i) {
    const std::string k = std::to_string(i);
    s.add<Linear>(m.params, "fc" + k, widths[i - 1], widths[i]);
    if (bn) s.add<BatchNorm>(m.params, "bn" + k, widths[i]);
    s.append(activation(m, "act" + k));
  }
  s.add<Linear>(m.params, "fc3", widths[2], m.options.classes);
  add_logit_bn(m);
}

}  // namespace qt::models
