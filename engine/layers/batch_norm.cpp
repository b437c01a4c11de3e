#include "engine/layers/batch_norm.h"

#include <cmath>
#include <stdexcept>

#include "engine/core/parallel.h"

namespace qt {

namespace {

// Sums with 16 running lanes: the loop vectorises without reassociating, and the result is the
// same whoever computes it. Each plane's lanes are added into a double, in plane order.
constexpr int kLanes = 16;

double sum_of(const float* p, int64_t n) {
  float lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += p[i + l];
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += lane[l];
  for (; i < n; ++i) s += p[i];
  return s;
}

// Σ (p[i] − m)²
double sq_dev_of(const float* p, int64_t n, float m) {
  float lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float d = p[i + l] - m;
      lane[l] += d * d;
    }
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += lane[l];
  for (; i < n; ++i) s += static_cast<double>(p[i] - m) * (p[i] - m);
  return s;
}

// Σ g[i] and Σ g[i]·(p[i] − m)
void grad_sums_of(const float* g, const float* p, int64_t n, float m, double& sg, double& sgx) {
  float lg[kLanes] = {}, lgx[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      lg[l] += g[i + l];
      lgx[l] += g[i + l] * (p[i + l] - m);
    }
  for (int l = 0; l < kLanes; ++l) {
    sg += lg[l];
    sgx += lgx[l];
  }
  for (; i < n; ++i) {
    sg += g[i];
    sgx += static_cast<double>(g[i]) * (p[i] - m);
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

// y = γ·(x − μ)/√(σ² + ε) + β, per channel; μ, σ² of the batch (biased) or the running ones
void BatchNorm::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  y.resize(output_shape(x.shape()));
  const int64_t n = x.dim(0), hw = n ? x.size() / (n * c_) : 0, count = n * hw;
  if (ctx.training && count < 2)
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
  parallel_for(C, std::max<int64_t>(1, 65536 / std::max<int64_t>(count, 1)),
               [&](int64_t c0, int64_t c1) {
                 for (int64_t c = c0; c < c1; ++c) {
                   float mean, inv;
                   if (ctx.training) {
                     double s = 0.0;
                     for (int64_t i = 0; i < n; ++i) s += sum_of(xp + (i * C + c) * hw, hw);
                     mean = static_cast<float>(s / static_cast<double>(count));
                     double q = 0.0;
                     for (int64_t i = 0; i < n; ++i)
                       q += sq_dev_of(xp + (i * C + c) * hw, hw, mean);
                     const double var = q / static_cast<double>(count);
                     inv = static_cast<float>(1.0 / std::sqrt(var + eps_));
                     const double unbiased = q / static_cast<double>(count - 1);
                     rm[c] = static_cast<float>((1.0 - momentum_) * rm[c] +
                                                momentum_ * static_cast<double>(mean));
                     rv[c] = static_cast<float>((1.0 - momentum_) * rv[c] + momentum_ * unbiased);
                   } else {
                     mean = rm[c];
                     inv = static_cast<float>(1.0 / std::sqrt(static_cast<double>(rv[c]) + eps_));
                   }
                   mean_[c] = mean;
                   inv_std_[c] = inv;
                   const float a = gamma[c] * inv, b = beta[c] - mean * a;
                   for (int64_t i = 0; i < n; ++i) {
                     const float* src = xp + (i * C + c) * hw;
                     float* dst = yp + (i * C + c) * hw;
                     for (int64_t j = 0; j < hw; ++j) dst[j] = src[j] * a + b;
                   }
                 }
               });
}

// x̂ = (x − μ)·r, r = 1/√(σ² + ε);  dγ = Σ dy·x̂,  dβ = Σ dy;
// training: dx = γ·r·(dy − Σdy/M − x̂·Σ(dy·x̂)/M), M = N·H·W;  evaluation: dx = γ·r·dy
void BatchNorm::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  const int64_t n = x.dim(0), hw = n ? x.size() / (n * c_) : 0, count = n * hw;
  if (dx) dx->resize(x.shape());
  const float* xp = x.data();
  const float* g = dy.data();
  float* d = dx ? dx->data() : nullptr;
  const float* gamma = weight_->used.data();
  float* dgamma = weight_->grad.data();
  float* dbeta = bias_->grad.data();
  const int64_t C = c_;
  parallel_for(
      C, std::max<int64_t>(1, 65536 / std::max<int64_t>(count, 1)), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          const float mean = mean_[c], inv = inv_std_[c];
          double sg = 0.0, sgx = 0.0;
          for (int64_t i = 0; i < n; ++i)
            grad_sums_of(g + (i * C + c) * hw, xp + (i * C + c) * hw, hw, mean, sg, sgx);
          dgamma[c] = static_cast<float>(sgx * inv);
          dbeta[c] = static_cast<float>(sg);
          if (!d) continue;
          // dx = k1·dy + k2·(x − μ) + k3, with the batch terms folded into per-channel constants.
          const float k1 = gamma[c] * inv;
          float k2 = 0.0f, k3 = 0.0f;
          if (trained_) {
            k2 = static_cast<float>(-static_cast<double>(k1) * inv * inv * sgx /
                                    static_cast<double>(count));
            k3 = static_cast<float>(-static_cast<double>(k1) * sg / static_cast<double>(count));
          }
          for (int64_t i = 0; i < n; ++i) {
            const float* gp = g + (i * C + c) * hw;
            const float* src = xp + (i * C + c) * hw;
            float* dst = d + (i * C + c) * hw;
            for (int64_t j = 0; j < hw; ++j) dst[j] = k1 * gp[j] + (k2 * (src[j] - mean) + k3);
          }
        }
      });
}

}  // namespace qt
