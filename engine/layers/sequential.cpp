#include "engine/layers/sequential.h"

#include "engine/layers/batch_norm.h"
#include "engine/layers/relu.h"

namespace qt {

std::string Sequential::describe() const {
  return "Sequential(" + std::to_string(layers_.size()) + ")";
}

Shape Sequential::output_shape(const Shape& in) const {
  Shape s = in;
  for (auto& l : layers_) s = l->output_shape(s);
  return s;
}

BatchNorm* Sequential::fused_bn_relu(size_t i) const {
  if (i + 1 >= layers_.size() || !dynamic_cast<ReLU*>(layers_[i + 1].get())) return nullptr;
  return dynamic_cast<BatchNorm*>(layers_[i].get());
}

// A BatchNorm followed by a ReLU runs as one layer (BatchNorm::forward_relu): the same values,
// one pass over memory fewer each way, and no tensor for the normalised values.
void Sequential::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  size_t n = layers_.size();
  if (n == 0) {
    y.resize(x.shape());
    y.copy_from(x);
    return;
  }
  acts_.resize(n);
  const Tensor* in = &x;
  for (size_t i = 0; i < n; ++i) {
    if (BatchNorm* bn = fused_bn_relu(i)) {
      Tensor& out = i + 2 == n ? y : acts_[i + 1];
      bn->forward_relu(*in, out, ctx);
      in = &out;
      ++i;
      continue;
    }
    Tensor& out = i + 1 == n ? y : acts_[i];
    layers_[i]->forward(*in, out, ctx);
    in = &out;
  }
}

void Sequential::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  size_t n = layers_.size();
  if (n == 0) {
    if (dx) {
      dx->resize(dy.shape());
      dx->copy_from(dy);
    }
    return;
  }
  // Without dx, the layers before the first one with parameters need no gradient at all (an MLP's
  // first Linear then skips its dx, a third of its backward): stop at that layer.
  const size_t first = dx ? 0 : first_with_params();
  const Tensor* g = &dy;
  for (size_t i = n; i-- > first;) {
    // The ReLU of a fused pair: its BatchNorm (never before `first`, having parameters) takes
    // both backward.
    BatchNorm* bn = i > first ? fused_bn_relu(i - 1) : nullptr;
    if (bn) --i;
    const Tensor& in = i == 0 ? x : acts_[i - 1];
    const Tensor& out = i + (bn ? 2 : 1) == n ? y : acts_[i + (bn ? 1 : 0)];
    Tensor* gin = i == first ? dx : (g == &grad_a_ ? &grad_b_ : &grad_a_);
    if (bn)
      bn->backward_relu(in, out, *g, gin);
    else
      layers_[i]->backward(in, out, *g, gin);
    g = gin;
  }
}

size_t Sequential::first_with_params() {
  std::vector<Layer*> tree;
  for (size_t i = 0; i < layers_.size(); ++i) {
    tree.clear();
    collect_layers(layers_[i].get(), tree);
    for (Layer* l : tree)
      if (!l->params().empty()) return i;
  }
  return layers_.size();  // no parameters anywhere: nothing to compute
}

void Sequential::init(Rng& rng) {
  for (auto& l : layers_) l->init(rng);
}

std::vector<Layer*> Sequential::children() {
  std::vector<Layer*> r;
  for (auto& l : layers_) r.push_back(l.get());
  return r;
}

}  // namespace qt
