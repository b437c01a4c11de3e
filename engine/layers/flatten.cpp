#include "engine/layers/flatten.h"

#include <stdexcept>

namespace qt {

Shape Flatten::output_shape(const Shape& in) const {
  if (in.size() < 2)
    throw std::invalid_argument(name() + ": expected (N, ...), got " + shape_str(in));
  return {in[0], in[0] ? shape_size(in) / in[0] : 0};
}

// y = x viewed as (N, rest)
void Flatten::forward(const Tensor& x, Tensor& y, const Context&) {
  y.resize(output_shape(x.shape()));
  y.copy_from(x);
}

// dx = dy viewed as x's shape
void Flatten::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  dx->copy_from(dy);
}

}  // namespace qt
