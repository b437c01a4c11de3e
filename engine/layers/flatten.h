#pragma once
// Flatten: (N, d1, d2, …) → (N, d1·d2·…); the data is unchanged.
#include "engine/layers/layer.h"

namespace qt {

class Flatten : public Layer {
 public:
  explicit Flatten(std::string name) : Layer(std::move(name)) {}
  std::string kind() const override { return "flatten"; }
  std::string describe() const override { return "Flatten"; }
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

}  // namespace qt
