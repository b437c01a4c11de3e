#include "engine/layers/conv2d.h"

#include <cmath>
#include <stdexcept>

#include "engine/kernels/conv_direct.h"
#include "engine/kernels/conv_im2col.h"
#include "engine/kernels/conv_winograd.h"

namespace qt {

Conv2d::Conv2d(ParamStore& store, std::string name, int64_t in_ch, int64_t out_ch, int64_t kernel,
               int64_t stride, int64_t padding, bool bias)
    : Layer(std::move(name)), in_(in_ch), out_(out_ch), k_(kernel), s_(stride), p_(padding) {
  if (in_ < 1 || out_ < 1 || k_ < 1 || s_ < 1 || p_ < 0)
    throw std::invalid_argument(this->name() +
                                ": conv needs channels, kernel, stride ≥ 1 and padding ≥ 0, got " +
                                describe());
  weight_ = store.add(this->name(), "weight", {out_ch, in_ch, kernel, kernel}, ParamRole::Weight,
                      in_ch * kernel * kernel);
  if (bias)
    bias_ = store.add(this->name(), "bias", {out_ch}, ParamRole::Bias, in_ch * kernel * kernel);
}

std::string Conv2d::describe() const {
  return "Conv2d(" + std::to_string(in_) + " -> " + std::to_string(out_) + ", k " +
         std::to_string(k_) + ", s " + std::to_string(s_) + ", p " + std::to_string(p_) +
         (bias_ ? "" : ", no bias") + ")";
}

Shape Conv2d::output_shape(const Shape& in) const {
  if (in.size() != 4 || in[1] != in_ || in[2] + 2 * p_ < k_ || in[3] + 2 * p_ < k_)
    throw std::invalid_argument(name() + ": expected (N, " + std::to_string(in_) +
                                ", H, W) with H, W ≥ " + std::to_string(k_ - 2 * p_) + ", got " +
                                shape_str(in));
  return {in[0], out_, (in[2] + 2 * p_ - k_) / s_ + 1, (in[3] + 2 * p_ - k_) / s_ + 1};
}

// PyTorch's default: W, b ~ U(−1/√fan_in, 1/√fan_in), fan_in = Cin·k² (kaiming_uniform, a = √5).
void Conv2d::init(Rng& rng) {
  float bound = 1.0f / std::sqrt(static_cast<float>(in_ * k_ * k_));
  for (float& w : weight_->value.span()) w = rng.uniform(-bound, bound);
  if (bias_)
    for (float& b : bias_->value.span()) b = rng.uniform(-bound, bound);
}

std::vector<Param*> Conv2d::params() {
  if (bias_) return {weight_, bias_};
  return {weight_};
}

ConvAlgo Conv2d::algorithm_for(const Shape& in) const {
  const int64_t h = in.size() == 4 ? in[2] : 0, w = in.size() == 4 ? in[3] : 0;
  const int64_t ho = h + 2 * p_ - k_ + 1, wo = w + 2 * p_ - k_ + 1, cols = (ho * w + 15) / 16 * 16;
  // The direct kernel's rows are W wide, so it takes "same" convolutions (2p = k − 1: y and dx as
  // wide as x and dy), and rounds the plane up to 16 columns: worth it while that adds at most a
  // third.
  const bool direct = direct_conv_available() && s_ == 1 && 2 * p_ == k_ - 1 && k_ <= 15 &&
                      ho > 0 && 3 * cols <= 4 * ho * wo;
  // Narrower padding ("valid", LeNet-5's conv2): y and dW by the direct kernel on rows W wide
  // (forward and dW), dx by im2col's GEMM and col2im. Worth it while the rows' dropped columns
  // add at most half (5×5 on 14×14: 144 columns for 100 outputs).
  const bool narrow = direct_conv_available() && s_ == 1 && 2 * p_ < k_ - 1 && k_ <= 15 && ho > 0 &&
                      wo > 0 && 2 * cols <= 3 * ho * wo;
  const bool winograd = k_ == 3 && s_ == 1;
  // Stride 2 by the direct kernels over the input's phases: "same" padding, even H and W.
  const bool direct2 = s_ == 2 && direct_conv_s2_applies(k_, p_, h, w);
  switch (algo_) {
    case ConvAlgo::Im2col:
      return ConvAlgo::Im2col;
    case ConvAlgo::Direct:
      return direct || direct2 || narrow ? ConvAlgo::Direct : ConvAlgo::Im2col;
    case ConvAlgo::Winograd:
      return winograd ? ConvAlgo::Winograd : ConvAlgo::Im2col;
    case ConvAlgo::Auto:
      break;
  }
  // Measured on ResNet-20 and VGG-11 shapes (tools/bench_layers): the direct kernel wins while
  // Cin·Cout is small (its dW reduction grows with it), Winograd from 64 channels up; Winograd's
  // transformed GEMMs are as thin as Cin, so it needs a few input channels.
  // ResNet-20's 3×3 stride-2 convolutions: the phase-split direct kernel is 1.5–2× faster than
  // im2col (no column copy, and a dx without col2im's scattered adds).
  if (direct2 && k_ == 3) return ConvAlgo::Direct;
  if ((direct || narrow) && in_ * out_ <= 4096) return ConvAlgo::Direct;
  if (winograd && in_ >= 8) return ConvAlgo::Winograd;
  if (direct) return ConvAlgo::Direct;
  return ConvAlgo::Im2col;
}

ConvShape Conv2d::shape_for(const Shape& in) const {
  return {in[0], in_, out_, in[2], in[3], k_, s_, p_};
}

// y = W ⋆ x + b, by the algorithm algorithm_for picks
void Conv2d::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  y.resize(output_shape(x.shape()));
  // The model's workspace, or (a layer used alone) the layer's own; backward uses the same.
  if (ctx.workspace) {
    ws_ = ctx.workspace;
  } else {
    if (!own_ws_) own_ws_ = std::make_unique<Workspace>();
    ws_ = own_ws_.get();
  }
  const ConvShape g = shape_for(x.shape());
  const float* w = weight_->used.data();
  const float* b = bias_ ? bias_->used.data() : nullptr;
  switch (algorithm_for(x.shape())) {
    case ConvAlgo::Direct:
      if (s_ == 2)
        direct_conv_s2_forward(*ws_, g, x.data(), w, b, y.data());
      else
        direct_conv_forward(*ws_, g, x.data(), w, b, y.data());
      return;
    case ConvAlgo::Winograd:
      winograd_forward(*ws_, g, x.data(), w, b, y.data());
      return;
    default:
      im2col_conv_forward(*ws_, g, x.data(), w, b, y.data());
  }
}

// dx = Wᵀ ⋆ dy (transposed convolution), dW = dy ⋆ x, db = Σ_{n,i,j} dy: by the same algorithm
void Conv2d::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!ws_) throw std::logic_error(name() + ": backward before forward");
  const ConvShape g = shape_for(x.shape());
  const float* w = weight_->used.data();
  float* dw = weight_->grad.data();
  float* db = bias_ ? bias_->grad.data() : nullptr;
  if (dx) dx->resize(x.shape());
  float* dxp = dx ? dx->data() : nullptr;
  switch (algorithm_for(x.shape())) {
    case ConvAlgo::Direct:
      if (s_ == 2) {
        direct_conv_s2_backward(*ws_, g, x.data(), w, dy.data(), dw, db, dxp);
      } else if (2 * p_ == k_ - 1) {
        direct_conv_backward(*ws_, g, x.data(), w, dy.data(), dw, db, dxp);
      } else {
        // Outputs narrower than the input ("valid"): the direct kernel's dx rows would be too
        // narrow, so it gives dW and db, and im2col's GEMM and col2im dx.
        direct_conv_backward(*ws_, g, x.data(), w, dy.data(), dw, db, nullptr);
        im2col_conv_backward(*ws_, g, x.data(), w, dy.data(), nullptr, nullptr, dxp);
      }
      return;
    case ConvAlgo::Winograd:
      winograd_backward(*ws_, g, x.data(), w, dy.data(), dw, db, dxp);
      return;
    default:
      im2col_conv_backward(*ws_, g, x.data(), w, dy.data(), dw, db, dxp);
  }
}

}  // namespace qt
