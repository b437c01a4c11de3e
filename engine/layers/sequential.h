#pragma once
// A chain of layers; keeps every intermediate activation for backward.
#include "engine/layers/layer.h"

namespace qt {

class BatchNorm;

class Sequential : public Layer {
 public:
  explicit Sequential(std::string name) : Layer(std::move(name)) {}
  template <class L, class... Args>
  L* add(Args&&... args) {
    auto l = std::make_unique<L>(std::forward<Args>(args)...);
    L* raw = l.get();
    layers_.push_back(std::move(l));
    return raw;
  }
  void append(LayerPtr l) { layers_.push_back(std::move(l)); }
  size_t size() const { return layers_.size(); }
  Layer* at(size_t i) { return layers_[i].get(); }

  std::string kind() const override { return "sequential"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  void init(Rng& rng) override;
  std::vector<Layer*> children() override;

 private:
  // Index of the first layer whose subtree has parameters (the layer count if none has).
  size_t first_with_params();
  // Layer i when it is a BatchNorm followed by a ReLU (run as one), else nullptr.
  BatchNorm* fused_bn_relu(size_t i) const;

  std::vector<LayerPtr> layers_;
  std::vector<Tensor> acts_;  // acts_[i] = output of layer i (the last one writes into y)
  Tensor grad_a_, grad_b_;    // ping-pong buffers for dL/d(activation)
};

}  // namespace qt
