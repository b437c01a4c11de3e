#pragma once
// BCGD's b-bit activation quantizer (Yin et al. 2018), a layer in place of a ReLU, with a learnable
// resolution α (one per quantizer, a Param of role Scale on the usual seam). L = 2^b − 1:
//   σ(x) = 0 for x ≤ 0;  kα for (k−1)α < x ≤ kα, k = 1..L;  Lα for x > Lα
// Backward in x (`backward`): inplt 1 on (0, Lα]; relu 1 for x > 0; idnty 1 everywhere.
// Backward in α (`alpha_grad`), per element, then summed, ×rate and clipped to [−1, 1]:
//   mean  0 | (L+1)/2 | L     (x ≤ 0 | 0 < x ≤ Lα | x > Lα)
//   min   0 | 1       | L
//   ae    0 | ⌈x/α⌉   | L     (the exact derivative almost everywhere)
//   pact  0 | 0       | L
// α is clamped to [1e-3, 5] before each use. While not learning, a training forward sets
// α = max(x)/L from its batch (the code's calibration before `alpha-stage`) and α gets no gradient.
#include <string>

#include "engine/layers/layer.h"
#include "engine/quant/algo_options.h"

namespace qt {

ActBackward parse_act_backward(const std::string& s);  // UsageError listing the valid names
AlphaGrad parse_alpha_grad(const std::string& s);

struct ActQuantConfig {
  int bits = 4;
  ActBackward backward = ActBackward::Inplt;
  AlphaGrad alpha_grad = AlphaGrad::Mean;
  float alpha_init = 0.1946f;
  float rate = 0.01f;  // the code's rate_factor
};

// The BCGD code's starting α for 1, 2 and 4 bits; 0 for other widths (no entry).
float alpha_table(int bits);

class ActQuantizer : public Layer {
 public:
  static constexpr float kAlphaMin = 1e-3f, kAlphaMax = 5.0f;

  ActQuantizer(ParamStore& store, std::string name, ActQuantConfig cfg);
  std::string kind() const override { return "act_quant"; }
  std::string describe() const override;
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  void init(Rng& rng) override;
  std::vector<Param*> params() override { return {alpha_}; }

  Param* alpha() { return alpha_; }
  float alpha_value() const { return alpha_->value[0]; }
  int levels() const { return levels_; }
  // Learning: α follows its gradient. Not learning: calibrated per training batch, frozen.
  void set_learning(bool on);
  bool learning() const { return learning_; }

 private:
  ActQuantConfig cfg_;
  int levels_;
  Param* alpha_;
  bool learning_ = true;
  ShardSync* sync_ = nullptr;  // the last training forward's (engine/core/shard_sync.h)
};

}  // namespace qt
