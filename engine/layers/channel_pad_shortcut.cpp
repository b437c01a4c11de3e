#include "engine/layers/channel_pad_shortcut.h"

#include <stdexcept>

#include "engine/core/parallel.h"

namespace qt {

ChannelPadShortcut::ChannelPadShortcut(std::string name, int64_t in_ch, int64_t out_ch,
                                       int64_t stride)
    : Layer(std::move(name)), in_(in_ch), out_(out_ch), s_(stride) {
  if (in_ < 1 || out_ < in_ || s_ < 1)
    throw std::invalid_argument(this->name() +
                                ": channel-pad shortcut needs 1 ≤ in ≤ out and stride ≥ 1, got " +
                                describe());
}

std::string ChannelPadShortcut::describe() const {
  return "ChannelPadShortcut(" + std::to_string(in_) + " -> " + std::to_string(out_) + ", stride " +
         std::to_string(s_) + ")";
}

Shape ChannelPadShortcut::output_shape(const Shape& in) const {
  if (in.size() != 4 || in[1] != in_)
    throw std::invalid_argument(name() + ": expected (N, " + std::to_string(in_) + ", H, W), got " +
                                shape_str(in));
  // x[:, :, ::s, ::s] keeps ⌈H/s⌉ rows.
  return {in[0], out_, (in[2] + s_ - 1) / s_, (in[3] + s_ - 1) / s_};
}

// y[n, c + (out − in)/2, i, j] = x[n, c, i·s, j·s], zero in the added channels
void ChannelPadShortcut::forward(const Tensor& x, Tensor& y, const Context&) {
  y.resize(output_shape(x.shape()));
  const int64_t h = x.dim(2), w = x.dim(3), ho = y.dim(2), wo = y.dim(3), lo = (out_ - in_) / 2;
  const int64_t s = s_;
  parallel_for(y.dim(0) * out_, std::max<int64_t>(1, 16384 / (ho * wo)),
               [&](int64_t p0, int64_t p1) {
                 for (int64_t pl = p0; pl < p1; ++pl) {
                   const int64_t n = pl / out_, c = pl % out_ - lo;
                   float* yp = y.data() + pl * ho * wo;
                   if (c < 0 || c >= in_) {
                     for (int64_t i = 0; i < ho * wo; ++i) yp[i] = 0.0f;
                     continue;
                   }
                   const float* xp = x.data() + (n * in_ + c) * h * w;
                   for (int64_t i = 0; i < ho; ++i)
                     for (int64_t j = 0; j < wo; ++j) yp[i * wo + j] = xp[i * s * w + j * s];
                 }
               });
}

// dx[n, c, i·s, j·s] = dy[n, c + (out − in)/2, i, j], zero at the skipped pixels
void ChannelPadShortcut::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  const int64_t h = x.dim(2), w = x.dim(3), ho = y.dim(2), wo = y.dim(3), lo = (out_ - in_) / 2;
  const int64_t s = s_;
  parallel_for(x.dim(0) * in_, std::max<int64_t>(1, 16384 / (h * w)), [&](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; ++pl) {
      const int64_t n = pl / in_, c = pl % in_;
      float* d = dx->data() + pl * h * w;
      const float* g = dy.data() + (n * out_ + c + lo) * ho * wo;
      if (s != 1)
        for (int64_t i = 0; i < h * w; ++i) d[i] = 0.0f;
      for (int64_t i = 0; i < ho; ++i)
        for (int64_t j = 0; j < wo; ++j) d[i * s * w + j * s] = g[i * wo + j];
    }
  });
}

}  // namespace qt
