#pragma once
// Internal to engine/models: one builder per model family, and what they share. A builder fills
// m.net with layers whose parameters go into m.params, following m.options.
#include <string>

#include "engine/models/model.h"

namespace qt::models {

// The layer at an activation site named `name`: the options' factory, or ReLU / Hardtanh.
LayerPtr activation(Model& m, const std::string& name);
// Output shape, for one image, of the layers `seq` holds so far on the model's input.
Shape shape_so_far(const Model& m, const Sequential& seq);
// Appends the BatchNorm on the logits ("logit_bn") when the options ask for it or `always`.
void add_logit_bn(Model& m, bool always = false);

void build_mlp(Model& m, bool bn);
void build_lenet5(Model& m, bool bn);
void build_vgg5(Model& m);
void build_vgg9(Model& m);
void build_vgg11(Model& m);
void build_resnet_cifar(Model& m, int depth);  // depth = 6n + 2
void build_resnet18(Model& m);

}  // namespace qt::models
