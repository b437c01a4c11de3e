#pragma once
// Average pooling over k×k windows of NCHW planes, stride s, zero padding p, and the padded zeros
// counted in the mean (PyTorch's default count_include_pad): y[n, c, i, j] = Σ_window x / k².
#include "engine/layers/layer.h"

namespace qt {

class AvgPool2d : public Layer {
 public:
  AvgPool2d(std::string name, int64_t kernel, int64_t stride = 0 /*0 = kernel*/,
            int64_t padding = 0);
  std::string kind() const override { return "avgpool2d"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  int64_t kernel() const { return k_; }
  int64_t stride() const { return s_; }
  int64_t padding() const { return p_; }

 private:
  int64_t k_, s_, p_;
};

}  // namespace qt
