#pragma once
// binaryrelax (Yin et al. 2018, docs/math.md §3). Phase I: u = (λ·Q(w) + w)/(1 + λ) per quantized
// tensor, forward and backward at u, the gradient with respect to u updates w. λ of epoch e is
// λ₀·γ^(e+1) (multiplied by γ at the start of every epoch, before its first use), or with
// `lambda-schedule linear` θ = λ/(1+λ) rises linearly per step from 0 to 1 over phase I (PARQ's
// ProxBinaryRelax). Phase II, from epoch `phase2-epoch`: forward and backward at Q(w); the
// evaluated and saved network is Q(w). Phase I is evaluated at u and, as the "quantized"
// variant, at Q(w).
#include "engine/quant/quant_algorithm.h"

namespace qt {

// λ of (0-based) epoch e under the exponential schedule: λ₀·γ^(e+1).
double relax_lambda(const AlgoOptions& opt, int epoch);
// θ, the weight of Q(w) in u, at training step `step` (0-based) of `epoch`; 1 in phase II.
double relax_theta(const AlgoOptions& opt, int epoch, int64_t step);
// u = (λ·q + w)/(1 + λ), elementwise; λ = ∞ gives q.
void relax_mix(const Tensor& w, const Tensor& q, double lambda, Tensor& u);

class BinaryRelax : public QuantAlgorithm {
 public:
  using QuantAlgorithm::QuantAlgorithm;
  void before_forward() override;
  void begin_eval() override;
  std::vector<std::string> eval_variants() const override;
  void set_eval_variant(const std::string& v) override { variant_ = v; }
  bool quantized_now(const QuantTarget&) const override { return epoch_ >= opt_.phase2_epoch; }

 protected:
  void add_record(nlohmann::json& rec) override;

 private:
  void fill(double theta);
  std::string variant_;
};

}  // namespace qt
