#pragma once
// 2-d convolution over NCHW, square kernels: y = W ⋆ x + b, x (N, Cin, H, W), W (Cout, Cin, k, k),
// y (N, Cout, Ho, Wo) with Ho = (H + 2p − k)/s + 1. Computed as im2col + one GEMM per chunk of
// samples; the chunking depends on the shapes only, so results are identical for every thread count.
#include <vector>

#include "engine/layers/layer.h"

namespace qt {

class Conv2d : public Layer {
 public:
  Conv2d(ParamStore& store, std::string name, int64_t in_ch, int64_t out_ch, int64_t kernel,
         int64_t stride = 1, int64_t padding = 0, bool bias = true);
  std::string kind() const override { return "conv2d"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  void init(Rng& rng) override;
  std::vector<Param*> params() override;

  Param* weight() { return weight_; }
  Param* bias() { return bias_; }
  int64_t in_channels() const { return in_; }
  int64_t out_channels() const { return out_; }
  int64_t kernel() const { return k_; }
  int64_t stride() const { return s_; }
  int64_t padding() const { return p_; }

 private:
  int64_t in_, out_, k_, s_, p_;
  Param* weight_;
  Param* bias_ = nullptr;
  std::vector<Tensor> work_;  // per-chunk scratch (columns, gathered dy), reused across steps
  Tensor dw_parts_;           // per-chunk partial dW, summed in chunk order
};

}  // namespace qt
