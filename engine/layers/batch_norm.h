#pragma once
// Batch normalisation over the channel dimension of (N, C) or (N, C, H, W):
// y = γ·(x − μ)/√(σ² + ε) + β. Training uses the batch's μ and biased σ² and updates the running
// averages as PyTorch does (r ← (1 − m)·r + m·batch value, unbiased σ² for the running variance);
// evaluation uses the running averages.
#include "engine/layers/layer.h"

namespace qt {

class BatchNorm : public Layer {
 public:
  BatchNorm(ParamStore& store, std::string name, int64_t channels, float eps = 1e-5f,
            float momentum = 0.1f);
  std::string kind() const override { return "batchnorm"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  // The same followed by a ReLU, in one pass over memory (Sequential fuses the pair): y is the
  // ReLU's output, dy its gradient. Bit for bit what the two layers give one after the other.
  void forward_relu(const Tensor& x, Tensor& y, const Context& ctx);
  void backward_relu(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx);
  void init(Rng& rng) override;
  std::vector<Param*> params() override;

  Param* weight() { return weight_; }
  Param* bias() { return bias_; }
  Buffer* running_mean() { return running_mean_; }
  Buffer* running_var() { return running_var_; }
  int64_t channels() const { return c_; }
  float eps() const { return eps_; }
  float momentum() const { return momentum_; }

 private:
  int64_t c_;
  float eps_, momentum_;
  Param* weight_;
  Param* bias_;
  Buffer* running_mean_;
  Buffer* running_var_;
  // Of the last forward: the μ and 1/√(σ² + ε) it normalised with, and whether it was training.
  std::vector<float> mean_, inv_std_;
  bool trained_ = true;
  double count_ = 0;           // values per channel in the (whole) training batch
  ShardSync* sync_ = nullptr;  // the last training forward's, for backward

  void forward_impl(const Tensor& x, Tensor& y, const Context& ctx, bool relu);
  // relu_y: the ReLU's output when fused (dy is masked where it is 0), else nullptr.
  void backward_impl(const Tensor& x, const float* relu_y, const Tensor& dy, Tensor* dx);
};

}  // namespace qt
