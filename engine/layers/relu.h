#pragma once
// Rectifier: y = max(x, 0).
#include "engine/layers/layer.h"

namespace qt {

class ReLU : public Layer {
 public:
  explicit ReLU(std::string name) : Layer(std::move(name)) {}
  std::string kind() const override { return "relu"; }
  std::string describe() const override { return "ReLU"; }
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

}  // namespace qt
