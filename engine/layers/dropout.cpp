#include "engine/layers/dropout.h"

#include <stdexcept>

#include "engine/core/parallel.h"

namespace qt {

static constexpr int64_t kGrain = 1 << 15;

// FNV-1a: a fixed hash, so that masks do not depend on the standard library.
static uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

Dropout::Dropout(std::string name, float p)
    : Layer(std::move(name)), p_(p), name_hash_(fnv1a(this->name())) {
  if (!(p >= 0.0f && p <= 1.0f))
    throw std::invalid_argument(this->name() + ": dropout probability must be in [0, 1], got " +
                                std::to_string(p));
}

std::string Dropout::describe() const {
  return "Dropout(" + std::to_string(p_) + ")";
}

// Applies y = x·[u(key, i) ≥ p]·scale over the whole tensor.
static void apply_mask(const float* x, float* y, int64_t n, uint64_t key, float p, float scale) {
  parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float kept = x[i] * scale;  // computed unconditionally: a vectorised select
      y[i] = uniform_at(key, static_cast<uint64_t>(i)) >= p ? kept : 0.0f;
    }
  });
}

// y = x·m/(1 − p)
void Dropout::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  y.resize(x.shape());
  trained_ = ctx.training && p_ > 0.0f;
  if (!trained_) {
    y.copy_from(x);
    return;
  }
  key_ = ctx.noise_key ^ name_hash_;
  apply_mask(x.data(), y.data(), x.size(), key_, p_, p_ < 1.0f ? 1.0f / (1.0f - p_) : 0.0f);
}

// dx = dy·m/(1 − p), the mask regenerated from the key of the forward
void Dropout::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  if (!trained_) {
    dx->copy_from(dy);
    return;
  }
  apply_mask(dy.data(), dx->data(), dy.size(), key_, p_, p_ < 1.0f ? 1.0f / (1.0f - p_) : 0.0f);
}

}  // namespace qt
