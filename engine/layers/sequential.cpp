#include "engine/layers/sequential.h"

namespace qt {

std::string Sequential::describe() const {
  return "Sequential(" + std::to_string(layers_.size()) + ")";
}

Shape Sequential::output_shape(const Shape& in) const {
  Shape s = in;
  for (auto& l : layers_) s = l->output_shape(s);
  return s;
}

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
    const Tensor& in = i == 0 ? x : acts_[i - 1];
    const Tensor& out = i + 1 == n ? y : acts_[i];
    Tensor* gin = i == first ? dx : (g == &grad_a_ ? &grad_b_ : &grad_a_);
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
