#pragma once
// bcgd (Yin et al. 2018, docs/math.md §3): blended coarse gradient descent, for full quantization.
// Weights: forward and backward at Q(w) (binary, α = mean|w| per layer, by default); after
// backward and before the SGD step with the coarse gradient, blend: w ← (1 − ρ)·w + ρ·Q(w).
// ρ of epoch e is min(ρ·rate^(e+1), rho-max); with ρ = 0 this is exactly `ste`.
// Activations: every activation site becomes the b-bit quantizer with learnable α
// (act_quantizer.h), unless --act says otherwise.
// `relax on` (the code's `br`): forward at (η·Q(w) + w)/(1 + η), η ×growth every half epoch,
// until epoch `relax-until`, exact Q(w) from then on; the blend then uses that relaxed tensor,
// as the code does.
#include "engine/quant/quant_algorithm.h"

namespace qt {

// ρ of (0-based) epoch e: min(ρ·rate^(e+1), rho_max)
double bcgd_rho(const AlgoOptions& opt, int epoch);
// η at training step `step` (0-based) of `epoch`; 0 when not relaxing. It grows ×growth at the
// first step of each half epoch, before that step, starting from η₀.
double bcgd_eta(const AlgoOptions& opt, int epoch, int64_t step);

class Bcgd : public QuantAlgorithm {
 public:
  using QuantAlgorithm::QuantAlgorithm;
  void before_forward() override;
  // w ← (1 − ρ)·w + ρ·used
  void adjust_gradients() override;
  void begin_eval() override;
  std::vector<std::string> eval_variants() const override;
  void set_eval_variant(const std::string& v) override { variant_ = v; }
  bool quantized_now(const QuantTarget&) const override { return !relaxing(); }

 protected:
  void add_record(nlohmann::json& rec) override;

 private:
  bool relaxing() const { return opt_.relax && epoch_ < opt_.relax_until; }
  void fill(double eta);
  std::string variant_;
};

}  // namespace qt
