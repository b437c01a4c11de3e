#include "engine/quant/layer_selection.h"

#include <algorithm>

#include "engine/core/error.h"
#include "engine/models/model.h"

namespace qt {

LayerDefault default_layers(const std::string& algorithm) {
  if (algorithm == "float") return LayerDefault::None;
  if (algorithm == "binaryrelax" || algorithm == "bcgd") return LayerDefault::Convs;
  if (algorithm == "iterative") return LayerDefault::All;
  return LayerDefault::AllButLast;
}

std::string describe_default(LayerDefault d) {
  switch (d) {
    case LayerDefault::None:
      return "none";
    case LayerDefault::Convs:
      return "every conv layer, fully connected layers float (no conv: all but the last)";
    case LayerDefault::AllButLast:
      return "every conv and linear layer but the last";
    case LayerDefault::All:
      return "every conv and linear layer";
  }
  return "?";
}

namespace {

bool is_conv(Model& m, Param* p) {
  Layer* l = m.find_layer(p->layer);
  return l && l->kind() == "conv2d";
}

std::string join(const std::vector<std::string>& v) {
  std::string r;
  for (auto& s : v) r += (r.empty() ? "" : ", ") + s;
  return r;
}

}  // namespace

std::vector<std::string> weighted_layer_names(Model& model) {
  std::vector<std::string> r;
  for (Param* p : model.quantizable()) r.push_back(p->layer);
  return r;
}

void check_layer_name(Model& model, const std::string& name, const std::string& what) {
  auto names = weighted_layer_names(model);
  if (std::find(names.begin(), names.end(), name) == names.end())
    throw UsageError(what + ": '" + name + "' is not a conv or linear layer of " + model.name +
                     " (valid: " + join(names) + ")");
}

std::vector<Param*> select_layers(Model& model, const AlgoOptions& opt) {
  const std::vector<Param*> all = model.quantizable();
  std::vector<char> take(all.size(), 0);
  if (!opt.layers.empty()) {
    for (const std::string& entry : opt.layers) {
      if (entry == "all" || entry == "conv" || entry == "linear") {
        for (size_t i = 0; i < all.size(); ++i)
          if (entry == "all" || (entry == "conv") == is_conv(model, all[i])) take[i] = 1;
        continue;
      }
      check_layer_name(model, entry, "--layers");
      for (size_t i = 0; i < all.size(); ++i)
        if (all[i]->layer == entry) take[i] = 1;
    }
  } else {
    LayerDefault d = default_layers(opt.name);
    if (d == LayerDefault::Convs &&
        std::none_of(all.begin(), all.end(), [&](Param* p) { return is_conv(model, p); }))
      d = LayerDefault::AllButLast;
    for (size_t i = 0; i < all.size(); ++i) {
      switch (d) {
        case LayerDefault::None:
          break;
        case LayerDefault::Convs:
          take[i] = is_conv(model, all[i]);
          break;
        case LayerDefault::AllButLast:
          take[i] = i + 1 < all.size();
          break;
        case LayerDefault::All:
          take[i] = 1;
          break;
      }
    }
  }
  if (!all.empty()) {
    auto force = [&](LayerForce how, size_t i) {
      if (how != LayerForce::Default) take[i] = how == LayerForce::Quantized;
    };
    force(opt.first_layer, 0);
    force(opt.last_layer, all.size() - 1);
  }
  std::vector<Param*> r;
  for (size_t i = 0; i < all.size(); ++i)
    if (take[i]) r.push_back(all[i]);
  return r;
}

}  // namespace qt
