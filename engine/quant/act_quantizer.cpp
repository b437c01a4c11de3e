#include "engine/quant/act_quantizer.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/quant/ordered_sum.h"

namespace qt {

static constexpr int64_t kGrain = 1 << 15;

ActBackward parse_act_backward(const std::string& s) {
  if (s == "inplt") return ActBackward::Inplt;
  if (s == "relu") return ActBackward::Relu;
  if (s == "idnty") return ActBackward::Idnty;
  throw UsageError("unknown activation backward '" + s + "': expected inplt, relu or idnty");
}

AlphaGrad parse_alpha_grad(const std::string& s) {
  if (s == "mean") return AlphaGrad::Mean;
  if (s == "min") return AlphaGrad::Min;
  if (s == "ae") return AlphaGrad::Ae;
  if (s == "pact") return AlphaGrad::Pact;
  throw UsageError("unknown alpha gradient '" + s + "': expected mean, min, ae or pact");
}

float alpha_table(int bits) {
  switch (bits) {
    case 1:
      return 1.2221f;
    case 2:
      return 0.6511f;
    case 4:
      return 0.1946f;
    default:
      return 0.0f;
  }
}

ActQuantizer::ActQuantizer(ParamStore& store, std::string name, ActQuantConfig cfg)
    : Layer(std::move(name)), cfg_(cfg), levels_((1 << cfg.bits) - 1) {
  if (cfg.bits < 1 || cfg.bits > 16)
    throw UsageError(this->name() + ": activation bits must be 1..16, got " +
                     std::to_string(cfg.bits));
  alpha_ = store.add(this->name(), "alpha", {1}, ParamRole::Scale);
}

std::string ActQuantizer::describe() const {
  static const char* bw[] = {"inplt", "relu", "idnty"};
  static const char* ag[] = {"mean", "min", "ae", "pact"};
  return "ActQuant(" + std::to_string(cfg_.bits) + " bits, backward " +
         bw[static_cast<int>(cfg_.backward)] + ", alpha-grad " +
         ag[static_cast<int>(cfg_.alpha_grad)] + ")";
}

void ActQuantizer::init(Rng&) {
  alpha_->value[0] = cfg_.alpha_init;
}

void ActQuantizer::set_learning(bool on) {
  learning_ = on;
  alpha_->trainable = on;
}

// y = α·clamp(⌈x/α⌉, 0, L)
void ActQuantizer::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  const float* xp = x.data();
  const int64_t n = x.size();
  float& a = alpha_->value[0];
  if (!learning_ && ctx.training && n > 0) {
    // α = max(x)/L: the max is exact whatever the split, so any reduction order gives one value.
    float m = xp[0];
    for (int64_t i = 1; i < n; ++i) m = std::max(m, xp[i]);
    a = m / static_cast<float>(levels_);
  }
  // α ← clamp(α, 1e-3, 5) before each use (the code clamps the parameter itself)
  a = std::clamp(a, kAlphaMin, kAlphaMax);
  const float alpha = a, top = static_cast<float>(levels_);
  y.resize(x.shape());
  float* yp = y.data();
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float v = xp[i];
      yp[i] = v > 0.0f ? std::min(std::ceil(v / alpha), top) * alpha : 0.0f;
    }
  });
}

void ActQuantizer::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  const float* xp = x.data();
  const float* g = dy.data();
  const int64_t n = x.size();
  const float alpha = alpha_->value[0], top = static_cast<float>(levels_);
  const float lim = top * alpha;
  if (dx) {
    dx->resize(x.shape());
    float* d = dx->data();
    const ActBackward bw = cfg_.backward;
    // dx = dy·[0 < x ≤ Lα] (inplt), dy·[x > 0] (relu), dy (idnty)
    parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const float v = xp[i];
        const bool pass =
            bw == ActBackward::Idnty || (v > 0.0f && (bw == ActBackward::Relu || v <= lim));
        d[i] = pass ? g[i] : 0.0f;
      }
    });
  }
  if (!learning_) {
    alpha_->grad[0] = 0.0f;
    return;
  }
  const AlphaGrad kind = cfg_.alpha_grad;
  const float inside_mean = (top + 1.0f) / 2.0f;
  // dL/dα = clip(rate · Σ dy·∂σ/∂α, −1, 1), ∂σ/∂α per `alpha_grad` (see the header)
  const double s = ordered_sum(n, [&](int64_t i0, int64_t i1) {
    double acc = 0;
    for (int64_t i = i0; i < i1; ++i) {
      const float v = xp[i];
      if (v <= 0.0f) continue;
      float d;
      if (v > lim)
        d = top;
      else if (kind == AlphaGrad::Mean)
        d = inside_mean;
      else if (kind == AlphaGrad::Min)
        d = 1.0f;
      else if (kind == AlphaGrad::Ae)
        d = std::min(std::ceil(v / alpha), top);
      else
        d = 0.0f;
      acc += static_cast<double>(g[i]) * d;
    }
    return acc;
  });
  alpha_->grad[0] = std::clamp(static_cast<float>(s * cfg_.rate), -1.0f, 1.0f);
}

}  // namespace qt
