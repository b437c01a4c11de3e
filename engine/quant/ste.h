#pragma once
// ste: forward and backward at Q(w) for any projection; the optimizer updates w with the gradient
// taken at Q(w) (the straight-through estimator). With ternary-twn this is TWN; it is also
// BinaryRelax's phase II on its own.
#include "engine/quant/quant_algorithm.h"

namespace qt {

class Ste : public QuantAlgorithm {
 public:
  using QuantAlgorithm::QuantAlgorithm;
  // used = Q(w)
  void before_forward() override;
};

}  // namespace qt
