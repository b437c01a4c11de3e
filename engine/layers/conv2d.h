#pragma once
// 2-d convolution over NCHW, square kernels: y = W ⋆ x + b, x (N, Cin, H, W), W (Cout, Cin, k, k),
// y (N, Cout, Ho, Wo) with Ho = (H + 2p − k)/s + 1. A dispatcher over three algorithms in
// engine/kernels, all the same function up to rounding (each checked against
// conv_reference.h): im2col + GEMM (any shape, conv_im2col.h); a direct convolution over shifted
// views of the padded input (stride 1 and 2, conv_direct.h); Winograd F(2×2, 3×3) for 3×3
// stride-1 kernels (conv_winograd.h). The choice depends on the shapes only, and so does the
// split of the work: results are identical for every thread count.
#include <memory>

#include "engine/kernels/conv_shape.h"
#include "engine/kernels/workspace.h"
#include "engine/layers/layer.h"

namespace qt {

enum class ConvAlgo { Auto, Im2col, Direct, Winograd };

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
  // Auto (the default) picks the fastest algorithm for the input shape; the others force one
  // (falling back to im2col where it does not apply), for tests and benchmarks.
  void set_algorithm(ConvAlgo a) { algo_ = a; }
  // The algorithm used for an input of shape `in`.
  ConvAlgo algorithm_for(const Shape& in) const;

 private:
  ConvShape shape_for(const Shape& in) const;

  int64_t in_, out_, k_, s_, p_;
  Param* weight_;
  Param* bias_ = nullptr;
  ConvAlgo algo_ = ConvAlgo::Auto;
  Workspace* ws_ = nullptr;            // the last forward's: the model's, or own_ws_
  std::unique_ptr<Workspace> own_ws_;  // made only when the layer runs outside a model
};

}  // namespace qt
