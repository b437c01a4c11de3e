#include "engine/layers/linear.h"

#include <cmath>
#include <stdexcept>

#include "engine/kernels/gemm.h"
#include "engine/core/parallel.h"

namespace qt {

// Work per task, fixed so that the same GEMM calls run whatever the thread count and results are
// bit-identical across thread counts. Each GEMM call packs its whole right operand again, so tasks
// are as large as two threads allow: rows of the batch for y and dx (a batch of 128 makes two
// tasks), and columns of dW (the inputs, in equal parts) for dW, whose packed operand, dy, is
// small.
static constexpr int64_t kRowsPerTask = 64;
static constexpr int64_t kColsPerTask = 256;

Linear::Linear(ParamStore& store, std::string name, int64_t in, int64_t out, bool bias)
    : Layer(std::move(name)), in_(in), out_(out) {
  weight_ = store.add(this->name(), "weight", {out, in}, ParamRole::Weight, in);
  if (bias) bias_ = store.add(this->name(), "bias", {out}, ParamRole::Bias, in);
}

std::string Linear::describe() const {
  return "Linear(" + std::to_string(in_) + " -> " + std::to_string(out_) +
         (bias_ ? "" : ", no bias") + ")";
}

Shape Linear::output_shape(const Shape& in) const {
  if (in.size() < 2 || shape_size(in) / in[0] != in_)
    throw std::invalid_argument(name() + ": expected input (N, " + std::to_string(in_) + "), got " +
                                shape_str(in));
  return {in[0], out_};
}

// PyTorch's default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a = sqrt(5)).
void Linear::init(Rng& rng) {
  float bound = 1.0f / std::sqrt(static_cast<float>(in_));
  for (float& w : weight_->value.span()) w = rng.uniform(-bound, bound);
  if (bias_)
    for (float& b : bias_->value.span()) b = rng.uniform(-bound, bound);
}

std::vector<Param*> Linear::params() {
  if (bias_) return {weight_, bias_};
  return {weight_};
}

// y[n, o] = Σ_i x[n, i]·W[o, i] + b[o]
void Linear::forward(const Tensor& x, Tensor& y, const Context&) {
  const int64_t n = x.dim(0);
  y.resize(output_shape(x.shape()));
  const float* w = weight_->used.data();
  const float* b = bias_ ? bias_->used.data() : nullptr;
  const int64_t tasks = (n + kRowsPerTask - 1) / kRowsPerTask;
  parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t r0 = t * kRowsPerTask, r1 = std::min(n, r0 + kRowsPerTask);
      float* yr = y.data() + r0 * out_;
      if (b)
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t o = 0; o < out_; ++o) yr[(r - r0) * out_ + o] = b[o];
      gemm(false, true, r1 - r0, out_, in_, 1.0f, x.data() + r0 * in_, in_, w, in_, b ? 1.0f : 0.0f,
           yr, out_);
    }
  });
}

// dW = dyᵀ·x,  db[o] = Σ_n dy[n, o],  dx = dy·W
void Linear::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  const int64_t n = x.dim(0);
  const float* w = weight_->used.data();
  float* dw = weight_->grad.data();
  const int64_t wtasks = (in_ + kColsPerTask - 1) / kColsPerTask;
  const int64_t xtasks = dx ? (n + kRowsPerTask - 1) / kRowsPerTask : 0;
  if (dx) dx->resize(x.shape());
  // Both products in one parallel loop: tasks [0, wtasks) own columns of dW, the rest rows of dx.
  parallel_for(wtasks + xtasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      if (t < wtasks) {
        const int64_t i0 = t * in_ / wtasks, i1 = (t + 1) * in_ / wtasks;
        gemm(true, false, out_, i1 - i0, n, 1.0f, dy.data(), out_, x.data() + i0, in_, 0.0f,
             dw + i0, in_);
      } else {
        int64_t r0 = (t - wtasks) * kRowsPerTask, r1 = std::min(n, r0 + kRowsPerTask);
        gemm(false, false, r1 - r0, in_, out_, 1.0f, dy.data() + r0 * out_, out_, w, in_, 0.0f,
             dx->data() + r0 * in_, in_);
      }
    }
  });
  if (!bias_) return;
  // Row by row: the loop over o vectorises, and each db[o] adds its rows in order.
  float* db = bias_->grad.data();
  for (int64_t o = 0; o < out_; ++o) db[o] = 0.0f;
  for (int64_t r = 0; r < n; ++r) {
    const float* g = dy.data() + r * out_;
    for (int64_t o = 0; o < out_; ++o) db[o] += g[o];
  }
}

}  // namespace qt
