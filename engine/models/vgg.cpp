// VGG-style networks: 3×3 convolutions (padding 1, with bias) each followed by a BatchNorm and an
// activation, 2×2 max pooling, then linear layers.
//   vgg5, vgg9: the networks of Iterative Training's code (rakutentech/iterative_training, after
//     Frankle et al. 2019): (2×64C3)-MP2 [-(2×128C3)-MP2-(2×256C3)-MP2], then 256-256-classes
//     linear layers, a BatchNorm after each of them, the logits' one included.
//   vgg11: cfg A of Simonyan & Zisserman for 32×32 inputs as the BinaryRelax and BCGD code have
//     it: 64 M 128 M 256 256 M 512 512 M 512 512 M, then one 512→classes linear layer.
#include <vector>

#include "engine/core/error.h"
#include "engine/layers/batch_norm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/flatten.h"
#include "engine/layers/linear.h"
#include "engine/layers/max_pool2d.h"
#include "engine/models/builders.h"

namespace qt::models {

namespace {

constexpr int kPool = 0;  // marks a max-pooling step in a configuration

// Appends conv-bn-act for every channel count of `cfg` and a 2×2 max pool for every kPool;
// layers are numbered from 1 in order (conv1, bn1, act1, …, pool1, …).
void add_features(Model& m, const std::vector<int>& cfg) {
  Sequential& s = *m.net;
  int64_t in = m.options.in_channels;
  int conv = 0, pool = 0;
  for (int c : cfg) {
    if (c == kPool) {
      const Shape now = shape_so_far(m, s);
      if (now[2] < 2 || now[3] < 2)
        throw UsageError(m.name + " needs larger images: " + std::to_string(m.options.height) +
                         "×" + std::to_string(m.options.width) + " shrinks to " +
                         std::to_string(now[2]) + "×" + std::to_string(now[3]) +
                         " before its max-pool " + std::to_string(pool + 1) +
                         " (32×32 inputs work)");
      s.add<MaxPool2d>("pool" + std::to_string(++pool), 2);
      continue;
    }
    const std::string k = std::to_string(++conv);
    s.add<Conv2d>(m.params, "conv" + k, in, c, 3, 1, 1);
    s.add<BatchNorm>(m.params, "bn" + k, c);
    s.append(activation(m, "act" + k));
    in = c;
  }
  s.add<Flatten>("flatten");
}

// fc1 → bn → act → fc2 → bn → act → fc3 → logit_bn, 256 units (Iterative Training's classifier).
void add_bn_classifier(Model& m, int first_bn) {
  Sequential& s = *m.net;
  const int64_t features = shape_size(shape_so_far(m, s));
  const int64_t widths[] = {features, 256, 256};
  for (int i = 1; i <= 2; ++i) {
    const std::string b = std::to_string(first_bn + i - 1);
    s.add<Linear>(m.params, "fc" + std::to_string(i), widths[i - 1], widths[i]);
    s.add<BatchNorm>(m.params, "bn" + b, widths[i]);
    s.append(activation(m, "act" + b));
  }
  s.add<Linear>(m.params, "fc3", widths[2], m.options.classes);
  add_logit_bn(m, true);
}

}  // namespace

void build_vgg5(Model& m) {
  add_features(m, {64, 64, kPool});
  add_bn_classifier(m, 3);
}

void build_vgg9(Model& m) {
  add_features(m, {64, 64, kPool, 128, 128, kPool, 256, 256, kPool});
  add_bn_classifier(m, 7);
}

void build_vgg11(Model& m) {
  add_features(m, {64, kPool, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool});
  const int64_t features = shape_size(shape_so_far(m, *m.net));
  m.net->add<Linear>(m.params, "fc", features, m.options.classes);
  add_logit_bn(m);
}

}  // namespace qt::models
