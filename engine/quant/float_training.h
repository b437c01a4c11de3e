#pragma once
// float: plain training, every weight float. The activation sites still follow --act, so float
// weights with binary or quantized activations are a run like any other.
#include "engine/quant/quant_algorithm.h"

namespace qt {

class FloatTraining : public QuantAlgorithm {
 public:
  using QuantAlgorithm::QuantAlgorithm;
};

}  // namespace qt
