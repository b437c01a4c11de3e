#pragma once
// The parameter-free "option A" shortcut of the CIFAR ResNets (He et al. 2016): every stride-th
// pixel, channels zero-padded from in_ch to out_ch, (out − in)/2 before and the rest after:
// y[n, c + (out − in)/2, i, j] = x[n, c, i·s, j·s], zero elsewhere.
#include "engine/layers/layer.h"

namespace qt {

class ChannelPadShortcut : public Layer {
 public:
  ChannelPadShortcut(std::string name, int64_t in_ch, int64_t out_ch, int64_t stride);
  std::string kind() const override { return "channelpad"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  int64_t in_channels() const { return in_; }
  int64_t out_channels() const { return out_; }
  int64_t stride() const { return s_; }

 private:
  int64_t in_, out_, s_;
};

}  // namespace qt
