#pragma once
// Max pooling over k×k windows of NCHW planes, stride s, implicit −∞ padding p:
// y[n, c, i, j] = max over the window; ties go to the first element in row-major order (as
// PyTorch).
#include <vector>

#include "engine/layers/layer.h"

namespace qt {

class MaxPool2d : public Layer {
 public:
  MaxPool2d(std::string name, int64_t kernel, int64_t stride = 0 /*0 = kernel*/,
            int64_t padding = 0);
  std::string kind() const override { return "maxpool2d"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  int64_t kernel() const { return k_; }
  int64_t stride() const { return s_; }
  int64_t padding() const { return p_; }

 private:
  int64_t k_, s_, p_;
  std::vector<int32_t> argmax_;  // per output: the winning index within its input plane
};

}  // namespace qt
