#pragma once
// Fully connected layer: y = x·Wᵀ + b, x (N, in), W (out, in), b (out).
#include "engine/layers/layer.h"

namespace qt {

class Linear : public Layer {
 public:
  Linear(ParamStore& store, std::string name, int64_t in, int64_t out, bool bias = true);
  std::string kind() const override { return "linear"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  void init(Rng& rng) override;
  std::vector<Param*> params() override;

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  Param* weight() { return weight_; }
  Param* bias() { return bias_; }

 private:
  int64_t in_, out_;
  Param* weight_;
  Param* bias_ = nullptr;
};

}  // namespace qt
