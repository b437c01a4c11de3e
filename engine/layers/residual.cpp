#include "engine/layers/residual.h"

#include <stdexcept>

#include "engine/core/parallel.h"

namespace qt {

static constexpr int64_t kGrain = 1 << 15;

Residual::Residual(std::string name, LayerPtr body, LayerPtr shortcut, bool relu_after)
    : Layer(std::move(name)),
      body_(std::move(body)),
      shortcut_(std::move(shortcut)),
      relu_after_(relu_after) {
  if (!body_) throw std::invalid_argument(this->name() + ": a residual block needs a body");
}

std::string Residual::describe() const {
  return "Residual(" + body_->describe() + " + " +
         (shortcut_ ? shortcut_->describe() : "identity") + (relu_after_ ? ", relu)" : ")");
}

Shape Residual::output_shape(const Shape& in) const {
  Shape b = body_->output_shape(in);
  Shape s = shortcut_ ? shortcut_->output_shape(in) : in;
  if (b != s)
    throw std::invalid_argument(name() + ": body gives " + shape_str(b) +
                                " but the shortcut gives " + shape_str(s) + " for input " +
                                shape_str(in));
  return b;
}

// y = relu(body(x) + shortcut(x))
void Residual::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  body_->forward(x, body_out_, ctx);
  const Tensor* s = &x;
  if (shortcut_) {
    shortcut_->forward(x, short_out_, ctx);
    s = &short_out_;
  }
  if (body_out_.shape() != s->shape())
    throw std::invalid_argument(name() + ": body gives " + shape_str(body_out_.shape()) +
                                " but the shortcut gives " + shape_str(s->shape()));
  y.resize(body_out_.shape());
  const float* b = body_out_.data();
  const float* sp = s->data();
  float* yp = y.data();
  const bool relu = relu_after_;
  parallel_for(y.size(), kGrain, [&](int64_t i0, int64_t i1) {
    if (relu)
      for (int64_t i = i0; i < i1; ++i) {
        const float z = b[i] + sp[i];
        yp[i] = z < 0.0f ? 0.0f : z;
      }
    else
      for (int64_t i = i0; i < i1; ++i) yp[i] = b[i] + sp[i];
  });
}

// dz = dy·[y > 0];  dx = body'ᵀ·dz + shortcut'ᵀ·dz  (shortcut'ᵀ·dz = dz for the identity)
void Residual::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const Tensor* dz = &dy;
  if (relu_after_) {
    dz_.resize(dy.shape());
    const float* yp = y.data();
    const float* g = dy.data();
    float* d = dz_.data();
    parallel_for(dy.size(), kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const float gi = g[i];  // unconditional load: a vectorised select
        d[i] = yp[i] > 0.0f ? gi : 0.0f;
      }
    });
    dz = &dz_;
  }
  body_->backward(x, body_out_, *dz, dx);
  const Tensor* extra = dz;
  if (shortcut_) {
    shortcut_->backward(x, short_out_, *dz, dx ? &dx_short_ : nullptr);
    extra = &dx_short_;
  }
  if (!dx) return;
  const float* e = extra->data();
  float* d = dx->data();
  parallel_for(dx->size(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) d[i] += e[i];
  });
}

void Residual::init(Rng& rng) {
  body_->init(rng);
  if (shortcut_) shortcut_->init(rng);
}

std::vector<Layer*> Residual::children() {
  if (shortcut_) return {body_.get(), shortcut_.get()};
  return {body_.get()};
}

}  // namespace qt
