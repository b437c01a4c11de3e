// LeNet-5 (LeCun et al. 1998) in its common modern form: 5×5 convolutions with 6 and 16 channels,
// ReLU, 2×2 max pooling, then 120-84-classes linear layers. conv1 pads by 2, so a 28×28 image
// sees what the original's 32×32 input gave (16×5×5 features); other sizes change fc1's input.
// lenet5-bn puts a BatchNorm after every hidden conv and linear layer.
#include "engine/layers/batch_norm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/flatten.h"
#include "engine/layers/linear.h"
#include "engine/layers/max_pool2d.h"
#include "engine/models/builders.h"

namespace qt::models {

void build_lenet5(Model& m, bool bn) {
  Sequential& s = *m.net;
  s.add<Conv2d>(m.params, "conv1", m.options.in_channels, 6, 5, 1, 2);
  if (bn) s.add<BatchNorm>(m.params, "bn1", 6);
  s.append(activation(m, "act1"));
  s.add<MaxPool2d>("pool1", 2);
  s.add<Conv2d>(m.params, "conv2", 6, 16, 5);
  if (bn) s.add<BatchNorm>(m.params, "bn2", 16);
  s.append(activation(m, "act2"));
  s.add<MaxPool2d>("pool2", 2);
  s.add<Flatten>("flatten");
  const int64_t features = shape_size(shape_so_far(m, s));
  s.add<Linear>(m.params, "fc1", features, 120);
  if (bn) s.add<BatchNorm>(m.params, "bn3", 120);
  s.append(activation(m, "act3"));
  s.add<Linear>(m.params, "fc2", 120, 84);
  if (bn) s.add<BatchNorm>(m.params, "bn4", 84);
  s.append(activation(m, "act4"));
  s.add<Linear>(m.params, "fc3", 84, m.options.classes);
  add_logit_bn(m);
}

}  // namespace qt::models
