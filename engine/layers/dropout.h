#pragma once
// Inverted dropout: y = x·m/(1 − p), m[i] = [u(key, i) ≥ p] with u the counter-based uniform of
// (ctx.noise_key ^ hash(name), element index), so the mask is the same for every thread count.
// Identity in evaluation.
#include "engine/layers/layer.h"

namespace qt {

class Dropout : public Layer {
 public:
  Dropout(std::string name, float p);
  std::string kind() const override { return "dropout"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  float p() const { return p_; }

 private:
  float p_;
  uint64_t name_hash_;
  uint64_t key_ = 0;      // mask key of the last forward
  bool trained_ = false;  // whether the last forward dropped anything
};

}  // namespace qt
