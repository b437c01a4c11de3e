#pragma once
// Which conv and linear weights an algorithm quantizes (docs/math.md §2), and how options
// override it. Layer names are the model's ("conv1", "layer2.1.conv2", "fc").
#include <string>
#include <vector>

#include "engine/core/param.h"
#include "engine/quant/algo_options.h"

namespace qt {

class Model;

enum class LayerDefault {
  None,        // float
  Convs,       // BinaryRelax, BCGD: every conv incl. the first, FCs float; a model without conv
               // (mlp) falls back to AllButLast
  AllButLast,  // binaryconnect, bwn, ste, proxybnn: every conv and linear but the classifier
  All,         // iterative: every conv and linear, first and last included
};

LayerDefault default_layers(const std::string& algorithm);
std::string describe_default(LayerDefault d);

// The weight parameters to quantize, in forward order: the algorithm's default or opt.layers
// (names, or "conv", "linear", "all"), then opt.first_layer / opt.last_layer (LayerForce::Quantized
// adds, Float removes). Throws UsageError on an unknown layer name, listing the valid ones.
std::vector<Param*> select_layers(Model& model, const AlgoOptions& opt);

// The names of the weighted (conv and linear) layers, in forward order.
std::vector<std::string> weighted_layer_names(Model& model);
// Throws UsageError unless `name` is a weighted layer of `model`; `what` names the option.
void check_layer_name(Model& model, const std::string& name, const std::string& what);

}  // namespace qt
