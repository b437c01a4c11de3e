#include "engine/quant/bcgd.h"

#include <algorithm>
#include <cmath>

#include "engine/core/parallel.h"
#include "engine/quant/binaryrelax.h"

namespace qt {

double bcgd_rho(const AlgoOptions& opt, int epoch) {
  // ρ_e = min(ρ·rate^(e+1), ρ_max): the code grows ρ at the start of every epoch, epoch 0 included
  return std::min(opt.rho * std::pow(opt.rho_rate, epoch + 1), opt.rho_max);
}

double bcgd_eta(const AlgoOptions& opt, int epoch, int64_t step) {
  if (!opt.relax || epoch >= opt.relax_until) return 0.0;
  const int64_t n = std::max<int64_t>(1, opt.steps_per_epoch);
  const int64_t half = (n + 1) / 2;                 // the code's ceil(batches / 2)
  const int64_t per_epoch = (n + half - 1) / half;  // steps s with s % half == 0
  // η = η₀·growth^(growths so far, this step's included)
  const int64_t growths = static_cast<int64_t>(epoch) * per_epoch + step / half + 1;
  return opt.relax_eta * std::pow(opt.relax_growth, static_cast<double>(growths));
}

void Bcgd::fill(double eta) {
  for (QuantTarget& t : targets_) {
    project(t);
    if (eta > 0)
      relax_mix(t.param->value, t.q, eta, t.param->substitute());
    else
      use(t, t.q);
  }
}

void Bcgd::before_forward() {
  fill(bcgd_eta(opt_, epoch_, step_in_epoch_));
}

void Bcgd::adjust_gradients() {
  const float rho = static_cast<float>(bcgd_rho(opt_, epoch_));
  if (rho == 0.0f) return;
  const float keep = 1.0f - rho;
  for (QuantTarget& t : targets_) {
    float* w = t.param->value.data();
    const float* g = t.param->used.data();
    // w ← (1 − ρ)·w + ρ·Q(w)  (Q(w) as used in this step's forward)
    parallel_for(t.param->value.size(), 1 << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) w[i] = keep * w[i] + rho * g[i];
    });
  }
}

void Bcgd::begin_eval() {
  fill(variant_ == "quantized" ? 0.0
                               : bcgd_eta(opt_, epoch_, std::max<int64_t>(0, step_in_epoch_ - 1)));
}

std::vector<std::string> Bcgd::eval_variants() const {
  if (!relaxing()) return {};
  return {"quantized"};
}

void Bcgd::add_record(nlohmann::json& rec) {
  rec["rho"] = bcgd_rho(opt_, epoch_);
  if (opt_.relax) rec["eta"] = bcgd_eta(opt_, epoch_, std::max<int64_t>(0, step_in_epoch_ - 1));
}

}  // namespace qt
