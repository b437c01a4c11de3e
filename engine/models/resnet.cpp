// Residual networks of basic blocks: two 3×3 convolutions without bias, each followed by a
// BatchNorm, an activation between them and one after the addition of the shortcut.
//   resnet20/32/44/56: He et al. 2016's CIFAR networks, 3 stages of n = (depth − 2)/6 blocks with
//     16, 32, 64 channels, global average pooling, one linear layer; the shortcut where the shape
//     changes is option A unless ModelOptions::shortcut says "B".
//   resnet18: torchvision's ImageNet layout (7×7/2 stem, 3×3/2 max pool, 4 stages of 2 blocks with
//     64…512 channels, 1×1 conv + BatchNorm shortcuts named "downsample.0/1").
// Names follow the PyTorch modules (conv1, layer2.0.conv1, layer2.0.bn2, fc), so parameters
// read as their state_dict keys do; each block's activations are "act1" and "act2".
#include "engine/core/error.h"
#include "engine/layers/batch_norm.h"
#include "engine/layers/channel_pad_shortcut.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/global_avg_pool.h"
#include "engine/layers/linear.h"
#include "engine/layers/max_pool2d.h"
#include "engine/layers/residual.h"
#include "engine/models/builders.h"

namespace qt::models {

namespace {

// Projection shortcut: 1×1 conv with stride, no bias, then BatchNorm; layers "<name>.0",
// "<name>.1".
LayerPtr projection(Model& m, const std::string& name, int64_t in, int64_t out, int64_t stride) {
  auto s = std::make_unique<Sequential>(name);
  s->add<Conv2d>(m.params, name + ".0", in, out, 1, stride, 0, false);
  s->add<BatchNorm>(m.params, name + ".1", out);
  return s;
}

// Appends block `name` (e.g. "layer2.0"): residual "<name>" = body + shortcut, then "<name>.act2".
void add_basic_block(Model& m, const std::string& name, int64_t in, int64_t planes, int64_t stride,
                     bool torchvision) {
  auto body = std::make_unique<Sequential>(name + ".body");
  body->add<Conv2d>(m.params, name + ".conv1", in, planes, 3, stride, 1, false);
  body->add<BatchNorm>(m.params, name + ".bn1", planes);
  body->append(activation(m, name + ".act1"));
  body->add<Conv2d>(m.params, name + ".conv2", planes, planes, 3, 1, 1, false);
  body->add<BatchNorm>(m.params, name + ".bn2", planes);
  LayerPtr shortcut;  // identity
  if (stride != 1 || in != planes) {
    if (torchvision)
      shortcut = projection(m, name + ".downsample", in, planes, stride);
    else if (m.options.shortcut == "B")
      shortcut = projection(m, name + ".shortcut", in, planes, stride);
    else
      shortcut = std::make_unique<ChannelPadShortcut>(name + ".shortcut", in, planes, stride);
  }
  m.net->append(std::make_unique<Residual>(name, std::move(body), std::move(shortcut), false));
  m.net->append(activation(m, name + ".act2"));
}

void add_stem(Model& m, int64_t channels, int64_t kernel, int64_t stride) {
  Sequential& s = *m.net;
  s.add<Conv2d>(m.params, "conv1", m.options.in_channels, channels, kernel, stride, kernel / 2,
                false);
  s.add<BatchNorm>(m.params, "bn1", channels);
  s.append(activation(m, "act1"));
}

void add_head(Model& m, int64_t channels) {
  m.net->add<GlobalAvgPool>("avgpool");
  m.net->add<Linear>(m.params, "fc", channels, m.options.classes);
  add_logit_bn(m);
}

}  // namespace

void build_resnet_cifar(Model& m, int depth) {
  if (m.options.shortcut != "A" && m.options.shortcut != "B")
    throw UsageError("unknown shortcut '" + m.options.shortcut + "' (valid: A, B)");
  const int blocks = (depth - 2) / 6;
  add_stem(m, 16, 3, 1);
  int64_t in = 16;
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t planes = int64_t{16} << stage;
    for (int b = 0; b < blocks; ++b) {
      const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      add_basic_block(m, name, in, planes, stage > 0 && b == 0 ? 2 : 1, false);
      in = planes;
    }
  }
  add_head(m, in);
}

void build_resnet18(Model& m) {
  add_stem(m, 64, 7, 2);
  m.net->add<MaxPool2d>("maxpool", 3, 2, 1);
  int64_t in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = int64_t{64} << stage;
    for (int b = 0; b < 2; ++b) {
      const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      add_basic_block(m, name, in, planes, stage > 0 && b == 0 ? 2 : 1, true);
      in = planes;
    }
  }
  add_head(m, in);
}

}  // namespace qt::models
