#pragma once
// Global average pooling: (N, C, H, W) → (N, C), y[n, c] = Σ_hw x[n, c, h, w] / (H·W).
#include "engine/layers/layer.h"

namespace qt {

class GlobalAvgPool : public Layer {
 public:
  explicit GlobalAvgPool(std::string name) : Layer(std::move(name)) {}
  std::string kind() const override { return "globalavgpool"; }
  std::string describe() const override { return "GlobalAvgPool"; }
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

}  // namespace qt
