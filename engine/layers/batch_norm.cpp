#include "engine/layers/batch_norm.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "engine/core/parallel.h"
#include "engine/core/shard_sync.h"
#include "engine/kernels/ordered_reduction.h"

namespace qt {

namespace {

// Sums with 16 running float lanes per plane, added lane by lane into 16 double lanes over the
// planes of a channel, which are summed once at its end (DoubleLanes16,
// engine/kernels/ordered_reduction.h): vectorised without reassociating, and the result is the
// same whoever computes it.
constexpr int kLanes = 16;

// Σ p[i]
void add_sum(const float* p, int64_t n, DoubleLanes16& s) {
  const FloatLanes16 r = float_lanes16(p, n);
  s.add(r.lo, r.hi);
  for (int64_t i = r.tail; i < n; ++i) s.tail += p[i];
}

// Σ (p[i] − m)²
void add_sq_dev(const float* p, int64_t n, float m, DoubleLanes16& s) {
  F8 lo = {}, hi = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const F8 a = load8(p + i) - m, b = load8(p + i + 8) - m;
    lo += a * a;
    hi += b * b;
  }
  s.add(lo, hi);
  for (; i < n; ++i) s.tail += static_cast<double>(p[i] - m) * (p[i] - m);
}

// Σ g[i] and Σ g[i]·(p[i] − m), with g[i] taken as 0 where a fused ReLU's output r[i] is 0
void add_grad_sums(const float* g, const float* r, const float* p, int64_t n, float m,
                   DoubleLanes16& sg, DoubleLanes16& sgx) {
  F8 g_lo = {}, g_hi = {}, gx_lo = {}, gx_hi = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    F8 a = load8(g + i), b = load8(g + i + 8);
    if (r) {
      a = load8(r + i) > 0.0f ? a : F8{};
      b = load8(r + i + 8) > 0.0f ? b : F8{};
    }
    g_lo += a;
    g_hi += b;
    gx_lo += a * (load8(p + i) - m);
    gx_hi += b * (load8(p + i + 8) - m);
  }
  sg.add(g_lo, g_hi);
  sgx.add(gx_lo, gx_hi);
  for (; i < n; ++i) {
    const float gi = !r || r[i] > 0.0f ? g[i] : 0.0f;
    sg.tail += gi;
    sgx.tail += static_cast<double>(gi) * (p[i] - m);
  }
}

}  // namespace

BatchNorm::BatchNorm(ParamStore& store, std::string name, int64_t channels, float eps,
                     float momentum)
    : Layer(std::move(name)), c_(channels), eps_(eps), momentum_(momentum) {
  if (channels < 1 || !(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
    throw std::invalid_argument(
        this->name() + ": batch norm needs channels ≥ 1, eps > 0, momentum in [0, 1], got " +
        describe());
  weight_ = store.add(this->name(), "weight", {channels}, ParamRole::Norm);
  bias_ = store.add(this->name(), "bias", {channels}, ParamRole::Norm);
  running_mean_ = store.add_buffer(this->name(), "running_mean", {channels});
  running_var_ = store.add_buffer(this->name(), "running_var", {channels});
}

std::string BatchNorm::describe() const {
  return "BatchNorm(" + std::to_string(c_) + ", eps " + std::to_string(eps_) + ", momentum " +
         std::to_string(momentum_) + ")";
}

Shape BatchNorm::output_shape(const Shape& in) const {
  if (in.size() < 2 || in[1] != c_)
    throw std::invalid_argument(name() + ": expected (N, " + std::to_string(c_) + ") or (N, " +
                                std::to_string(c_) + ", H, W), got " + shape_str(in));
  return in;
}

// γ = 1, β = 0, running mean 0, running variance 1 (PyTorch's defaults)
void BatchNorm::init(Rng&) {
  weight_->value.fill(1.0f);
  bias_->value.fill(0.0f);
  running_mean_->value.fill(0.0f);
  running_var_->value.fill(1.0f);
}

std::vector<Param*> BatchNorm::params() {
  return {weight_, bias_};
}

void BatchNorm::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  forward_impl(x, y, ctx, false);
}

void BatchNorm::forward_relu(const Tensor& x, Tensor& y, const Context& ctx) {
  forward_impl(x, y, ctx, true);
}

void BatchNorm::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  backward_impl(x, nullptr, dy, dx);
}

void BatchNorm::backward_relu(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  backward_impl(x, y.data(), dy, dx);
}

// y = γ·(x − μ)/√(σ² + ε) + β, per channel; μ, σ² of the batch (biased) or the running ones;
// then max(y, 0) when a ReLU is fused (NaN kept, as ReLU does). On a shard of a larger batch
// (ctx.sync), μ and σ² are those of the whole batch: the per-channel sums and the count are
// combined over the shards (synchronized BatchNorm).
void BatchNorm::forward_impl(const Tensor& x, Tensor& y, const Context& ctx, bool relu) {
  y.resize(output_shape(x.shape()));
  const int64_t n = x.dim(0), hw = n ? x.size() / (n * c_) : 0, count = n * hw;
  sync_ = ctx.training ? ctx.sync : nullptr;
  if (ctx.training && count < 2 && !sync_)
    throw std::invalid_argument(name() +
                                ": training needs more than one value per channel, got input " +
                                shape_str(x.shape()));
  trained_ = ctx.training;
  mean_.resize(static_cast<size_t>(c_));
  inv_std_.resize(static_cast<size_t>(c_));
  const float* xp = x.data();
  float* yp = y.data();
  const float* gamma = weight_->used.data();
  const float* beta = bias_->used.data();
  float* rm = running_mean_->value.data();
  float* rv = running_var_->value.data();
  const int64_t C = c_;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(count, 1));
  if (ctx.training) {
    // Σ x per channel, then the count: one vector, so a shard combines them in one exchange.
    std::vector<double> s(static_cast<size_t>(C) + 1);
    parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        DoubleLanes16 sum;
        for (int64_t i = 0; i < n; ++i) add_sum(xp + (i * C + c) * hw, hw, sum);
        s[c] = sum.total();
      }
    });
    s[C] = static_cast<double>(count);
    if (sync_) sync_->sum(s);
    count_ = s[C];
    if (count_ < 2)
      throw std::invalid_argument(name() + ": training needs more than one value per channel, " +
                                  "got " + std::to_string(static_cast<int64_t>(count_)) +
                                  " in the batch");
    for (int64_t c = 0; c < C; ++c) mean_[c] = static_cast<float>(s[c] / count_);
    // Σ (x − μ)² per channel
    std::vector<double> q(static_cast<size_t>(C));
    parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        DoubleLanes16 sq;
        for (int64_t i = 0; i < n; ++i) add_sq_dev(xp + (i * C + c) * hw, hw, mean_[c], sq);
        q[c] = sq.total();
      }
    });
    if (sync_) sync_->sum(q);
    for (int64_t c = 0; c < C; ++c) {
      const double var = q[c] / count_;
      inv_std_[c] = static_cast<float>(1.0 / std::sqrt(var + eps_));
      const double unbiased = q[c] / (count_ - 1);
      rm[c] =
          static_cast<float>((1.0 - momentum_) * rm[c] + momentum_ * static_cast<double>(mean_[c]));
      rv[c] = static_cast<float>((1.0 - momentum_) * rv[c] + momentum_ * unbiased);
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      mean_[c] = rm[c];
      inv_std_[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(rv[c]) + eps_));
    }
  }
  parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const float a = gamma[c] * inv_std_[c], b = beta[c] - mean_[c] * a;
      for (int64_t i = 0; i < n; ++i) {
        const float* src = xp + (i * C + c) * hw;
        float* dst = yp + (i * C + c) * hw;
        if (relu)
          for (int64_t j = 0; j < hw; ++j) {
            const float v = src[j] * a + b;
            dst[j] = v < 0.0f ? 0.0f : v;
          }
        else
          for (int64_t j = 0; j < hw; ++j) dst[j] = src[j] * a + b;
      }
    }
  });
}

// x̂ = (x − μ)·r, r = 1/√(σ² + ε);  dγ = Σ dy·x̂,  dβ = Σ dy;
// training: dx = γ·r·(dy − Σdy/M − x̂·Σ(dy·x̂)/M), M = N·H·W;  evaluation: dx = γ·r·dy;
// with a fused ReLU, dy·[relu_y > 0] in place of dy. On a shard, dγ and dβ are this shard's
// share (the trainer adds the shards' gradients); the sums in dx and M are the whole batch's.
void BatchNorm::backward_impl(const Tensor& x, const float* relu_y, const Tensor& dy, Tensor* dx) {
  const int64_t n = x.dim(0), hw = n ? x.size() / (n * c_) : 0;
  if (dx) dx->resize(x.shape());
  const float* xp = x.data();
  const float* g = dy.data();
  float* d = dx ? dx->data() : nullptr;
  const float* gamma = weight_->used.data();
  float* dgamma = weight_->grad.data();
  float* dbeta = bias_->grad.data();
  const int64_t C = c_;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(n * hw, 1));
  // Σ dy per channel in [0, C), Σ dy·(x − μ) in [C, 2C)
  std::vector<double> s(2 * static_cast<size_t>(C));
  parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      DoubleLanes16 lg, lgx;
      for (int64_t i = 0; i < n; ++i)
        add_grad_sums(g + (i * C + c) * hw, relu_y ? relu_y + (i * C + c) * hw : nullptr,
                      xp + (i * C + c) * hw, hw, mean_[c], lg, lgx);
      s[c] = lg.total();
      s[C + c] = lgx.total();
      dgamma[c] = static_cast<float>(s[C + c] * inv_std_[c]);
      dbeta[c] = static_cast<float>(s[c]);
    }
  });
  if (trained_ && sync_) sync_->sum(s);
  if (!d) return;
  parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const float mean = mean_[c], inv = inv_std_[c];
      const double sg = s[c], sgx = s[C + c];
      // dx = k1·dy + k2·(x − μ) + k3, with the batch terms folded into per-channel constants.
      const float k1 = gamma[c] * inv;
      float k2 = 0.0f, k3 = 0.0f;
      if (trained_) {
        k2 = static_cast<float>(-static_cast<double>(k1) * inv * inv * sgx / count_);
        k3 = static_cast<float>(-static_cast<double>(k1) * sg / count_);
      }
      for (int64_t i = 0; i < n; ++i) {
        const float* gp = g + (i * C + c) * hw;
        const float* src = xp + (i * C + c) * hw;
        float* dst = d + (i * C + c) * hw;
        if (relu_y) {
          const float* r = relu_y + (i * C + c) * hw;
          for (int64_t j = 0; j < hw; ++j) {
            const float gj = gp[j];  // unconditional load: a vectorised select
            dst[j] = k1 * (r[j] > 0.0f ? gj : 0.0f) + (k2 * (src[j] - mean) + k3);
          }
        } else {
          for (int64_t j = 0; j < hw; ++j) dst[j] = k1 * gp[j] + (k2 * (src[j] - mean) + k3);
        }
      }
    }
  });
}

}  // namespace qt
