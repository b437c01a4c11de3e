#include "engine/quant/act_quantizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/core/shard_sync.h"
#include "engine/kernels/ordered_reduction.h"

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

namespace {

// The element loops below run over plain pointers and values, out of line: inlined into a TBB
// task body, with α reached through the lambda's captures, GCC reloads α after every store and
// branches per element (a step of ResNet-20 with 4-bit activations took 1.7× the float step).
// Here it vectorizes them. Every select computes both sides from unconditional loads.

// clamp(⌈y⌉, 0, L), by truncation to an integer: GCC vectorizes this, not ceilf (under the
// default -ftrapping-math). y is clamped to [0, L] first, which leaves the result as it is (⌈·⌉
// is monotone and L an integer) and keeps the conversion defined; NaN gives 0.
inline float ceil_code(float y, float top) {
  float r = y > 0.0f ? y : 0.0f;
  r = r < top ? r : top;
  const int32_t t = static_cast<int32_t>(r);
  return static_cast<float>(t + (r > static_cast<float>(t) ? 1 : 0));
}

// y = α·clamp(⌈x/α⌉, 0, L) over [0, n): x ≤ 0 (and NaN) have code 0, so y = +0 (α > 0), and
// no select is needed.
[[gnu::noinline]] void quantize_span(const float* x, float* y, int64_t n, float alpha, float top) {
  for (int64_t i = 0; i < n; ++i) y[i] = ceil_code(x[i] / alpha, top) * alpha;
}

// dx = dy·[0 < x ≤ Lα] (inplt), dy·[x > 0] (relu), dy (idnty)
[[gnu::noinline]] void pass_span(const float* x, const float* dy, float* dx, int64_t n, float lim,
                                 ActBackward bw) {
  switch (bw) {
    case ActBackward::Inplt:
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i], g = dy[i];
        dx[i] = v > 0.0f && v <= lim ? g : 0.0f;
      }
      return;
    case ActBackward::Relu:
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i], g = dy[i];
        dx[i] = v > 0.0f ? g : 0.0f;
      }
      return;
    case ActBackward::Idnty:
      std::copy(dy, dy + n, dx);
      return;
  }
}

// ∂σ/∂α of one element (see the header): 0 for x ≤ 0, L for x > Lα, and inside per `K`.
template <AlphaGrad K>
float dsigma_dalpha(float v, float alpha, float top, float lim) {
  float inside = 0.0f;
  if constexpr (K == AlphaGrad::Mean) inside = (top + 1.0f) / 2.0f;
  if constexpr (K == AlphaGrad::Min) inside = 1.0f;
  if constexpr (K == AlphaGrad::Ae) inside = ceil_code(v / alpha, top);
  const float d = v > lim ? top : inside;
  return v > 0.0f ? d : 0.0f;  // NaN too: as in y and dx, it counts as x ≤ 0
}

// Σ dy·∂σ/∂α over [0, n), in double: blocks of kBlock map ∂σ/∂α into a buffer, then add
// dy·∂σ/∂α into 16 interleaved lanes (element i to lane i % 16), summed in lane order at
// the end. A fixed order for a given n: the sum does not depend on the threads.
template <AlphaGrad K>
[[gnu::noinline]] double alpha_grad_span(const float* x, const float* dy, int64_t n, float alpha,
                                         float top) {
  constexpr int64_t kBlock = 256;
  const float lim = top * alpha;
  Lanes<double, 16> lanes;
  float d[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t len = std::min(kBlock, n - b);
    for (int64_t j = 0; j < len; ++j) d[j] = dsigma_dalpha<K>(x[b + j], alpha, top, lim);
    lanes.add(
        len, [&](int64_t j) { return static_cast<double>(dy[b + j]) * static_cast<double>(d[j]); });
  }
  return lanes.total();
}

double alpha_grad_sum(AlphaGrad kind, const float* x, const float* dy, int64_t n, float alpha,
                      float top) {
  // Chunks of 2^14 elements, partials in chunk order (engine/kernels/ordered_reduction.h).
  return chunked_reduce<double>(n, int64_t{1} << 14, [&](int64_t i0, int64_t i1) {
    const float* xs = x + i0;
    const float* gs = dy + i0;
    switch (kind) {
      case AlphaGrad::Mean:
        return alpha_grad_span<AlphaGrad::Mean>(xs, gs, i1 - i0, alpha, top);
      case AlphaGrad::Min:
        return alpha_grad_span<AlphaGrad::Min>(xs, gs, i1 - i0, alpha, top);
      case AlphaGrad::Ae:
        return alpha_grad_span<AlphaGrad::Ae>(xs, gs, i1 - i0, alpha, top);
      case AlphaGrad::Pact:
        return alpha_grad_span<AlphaGrad::Pact>(xs, gs, i1 - i0, alpha, top);
    }
    return 0.0;
  });
}

}  // namespace

// y = α·clamp(⌈x/α⌉, 0, L)
void ActQuantizer::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  const float* xp = x.data();
  const int64_t n = x.size();
  float& a = alpha_->value[0];
  sync_ = ctx.training ? ctx.sync : nullptr;
  if (!learning_ && ctx.training && (n > 0 || sync_)) {
    // α = max(x)/L: the max is exact whatever the split, so any reduction order gives one value
    // (on a shard, the whole batch's max).
    float m = n > 0 ? xp[0] : -std::numeric_limits<float>::infinity();
    for (int64_t i = 1; i < n; ++i) m = std::max(m, xp[i]);
    if (sync_) sync_->max(std::span<float>(&m, 1));
    a = m / static_cast<float>(levels_);
  }
  // α ← clamp(α, 1e-3, 5) before each use (the code clamps the parameter itself)
  a = std::clamp(a, kAlphaMin, kAlphaMax);
  const float alpha = a, top = static_cast<float>(levels_);
  y.resize(x.shape());
  float* yp = y.data();
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    quantize_span(xp + i0, yp + i0, i1 - i0, alpha, top);
  });
}

void ActQuantizer::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  const float* xp = x.data();
  const float* g = dy.data();
  const int64_t n = x.size();
  const float alpha = alpha_->value[0], top = static_cast<float>(levels_);
  if (dx) {
    dx->resize(x.shape());
    float* d = dx->data();
    const float lim = top * alpha;
    parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
      pass_span(xp + i0, g + i0, d + i0, i1 - i0, lim, cfg_.backward);
    });
  }
  if (!learning_) {
    alpha_->grad[0] = 0.0f;
    return;
  }
  // dL/dα = clip(rate · Σ dy·∂σ/∂α, −1, 1), ∂σ/∂α per `alpha_grad` (see the header)
  double s = alpha_grad_sum(cfg_.alpha_grad, xp, g, n, alpha, top);
  // On a shard: the clip acts on the whole batch's sum, and the trainer adds the shards'
  // gradients, so the first shard carries it and the others give 0.
  if (sync_) sync_->sum(std::span<double>(&s, 1));
  alpha_->grad[0] = std::clamp(static_cast<float>(s * cfg_.rate), -1.0f, 1.0f);
  if (sync_ && sync_->shard() != 0) alpha_->grad[0] = 0.0f;
}

}  // namespace qt
