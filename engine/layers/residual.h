#pragma once
// Residual block: y = relu(body(x) + shortcut(x)), shortcut = identity when null, the ReLU
// optional.
#include "engine/layers/layer.h"

namespace qt {

class Residual : public Layer {
 public:
  Residual(std::string name, LayerPtr body, LayerPtr shortcut /* nullptr = identity */,
           bool relu_after = true);
  std::string kind() const override { return "residual"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  void init(Rng& rng) override;
  std::vector<Layer*> children() override;

  Layer* body() { return body_.get(); }
  Layer* shortcut() { return shortcut_.get(); }
  bool relu_after() const { return relu_after_; }

 private:
  LayerPtr body_, shortcut_;
  bool relu_after_;
  Tensor body_out_, short_out_;  // kept for the children's backward
  Tensor dz_, dx_short_;         // backward scratch
};

}  // namespace qt
