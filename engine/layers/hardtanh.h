#pragma once
// Clipping: y = min(max(x, lo), hi).
#include "engine/layers/layer.h"

namespace qt {

class Hardtanh : public Layer {
 public:
  Hardtanh(std::string name, float lo = -1.0f, float hi = 1.0f);
  std::string kind() const override { return "hardtanh"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  float lo() const { return lo_; }
  float hi() const { return hi_; }

 private:
  float lo_, hi_;
};

}  // namespace qt
