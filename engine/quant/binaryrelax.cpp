#include "engine/quant/binaryrelax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/parallel.h"

namespace qt {

double relax_lambda(const AlgoOptions& opt, int epoch) {
  // λ_e = λ₀·γ^(e+1): the code multiplies before the first use, so epoch 0 already has λ₀·γ
  return opt.lambda0 * std::pow(opt.lambda_growth, epoch + 1);
}

double relax_theta(const AlgoOptions& opt, int epoch, int64_t step) {
  if (epoch >= opt.phase2_epoch) return 1.0;
  if (opt.lambda_schedule == LambdaSchedule::Linear) {
    // θ = t / T over phase I's T = phase2-epoch · steps-per-epoch steps (per epoch without a step
    // count)
    const int64_t n = opt.steps_per_epoch > 0 ? opt.steps_per_epoch : 1;
    const int64_t t = static_cast<int64_t>(epoch) * n + (opt.steps_per_epoch > 0 ? step : 0);
    return std::min(1.0, static_cast<double>(t) / (static_cast<double>(opt.phase2_epoch) * n));
  }
  const double lam = relax_lambda(opt, epoch);
  // θ = λ/(1+λ)
  return lam / (1.0 + lam);
}

void relax_mix(const Tensor& w, const Tensor& q, double lambda, Tensor& u) {
  const float* wp = w.data();
  const float* qp = q.data();
  float* up = u.data();
  if (std::isinf(lambda)) {
    u.copy_from(q);
    return;
  }
  const float lam = static_cast<float>(lambda), den = 1.0f + lam;
  // u = (λ·Q(w) + w)/(1 + λ)
  parallel_for(w.size(), 1 << 15, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) up[i] = (lam * qp[i] + wp[i]) / den;
  });
}

namespace {
// λ = θ/(1 − θ), infinite at θ = 1.
double lambda_of(double theta) {
  return theta >= 1.0 ? std::numeric_limits<double>::infinity() : theta / (1.0 - theta);
}
}  // namespace

void BinaryRelax::fill(double theta) {
  const double lam = opt_.lambda_schedule == LambdaSchedule::Linear || theta >= 1.0
                         ? lambda_of(theta)
                         : relax_lambda(opt_, epoch_);
  for (QuantTarget& t : targets_) {
    project(t);
    relax_mix(t.param->value, t.q, lam, t.param->substitute());
  }
}

void BinaryRelax::before_forward() {
  fill(relax_theta(opt_, epoch_, step_in_epoch_));
}

void BinaryRelax::begin_eval() {
  // The main evaluation uses the relaxation of the last training step; "quantized" uses Q(w).
  fill(variant_ == "quantized"
           ? 1.0
           : relax_theta(opt_, epoch_, std::max<int64_t>(0, step_in_epoch_ - 1)));
}

std::vector<std::string> BinaryRelax::eval_variants() const {
  if (epoch_ >= opt_.phase2_epoch) return {};
  return {"quantized"};
}

void BinaryRelax::add_record(nlohmann::json& rec) {
  const bool phase2 = epoch_ >= opt_.phase2_epoch;
  rec["phase"] = phase2 ? 2 : 1;
  if (phase2) return;
  const double theta = relax_theta(opt_, epoch_, std::max<int64_t>(0, step_in_epoch_ - 1));
  rec["theta"] = theta;
  rec["lambda"] = opt_.lambda_schedule == LambdaSchedule::Linear ? lambda_of(theta)
                                                                 : relax_lambda(opt_, epoch_);
  if (std::isinf(rec["lambda"].get<double>())) rec.erase("lambda");
}

}  // namespace qt
