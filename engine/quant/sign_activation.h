#pragma once
// Binary activation: y = sign(x) ∈ {−1, +1}, sign(0) = +1. Its derivative is 0 almost everywhere,
// so backward uses a surrogate:
//   hardtanh STE (BinaryNet):  dx = dy·[|x| ≤ 1]
//   Bi-Real Net: the derivative of the piecewise polynomial F(x) = −1 (x < −1), 2x + x² (−1 ≤ x <
//   0),
//                2x − x² (0 ≤ x < 1), 1 (x ≥ 1):  dx = dy·(2 − 2|x|)·[|x| < 1]
#include "engine/layers/layer.h"

namespace qt {

enum class SignBackward { Hardtanh, BiReal };

class SignActivation : public Layer {
 public:
  SignActivation(std::string name, SignBackward backward);
  std::string kind() const override { return "sign"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;

 private:
  SignBackward backward_;
};

}  // namespace qt
