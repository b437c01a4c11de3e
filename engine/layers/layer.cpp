#include "engine/layers/layer.h"

namespace qt {

void collect_layers(Layer* root, std::vector<Layer*>& out) {
  out.push_back(root);
  for (Layer* c : root->children()) collect_layers(c, out);
}

}  // namespace qt
