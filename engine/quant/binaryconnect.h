#pragma once
// binaryconnect (Courbariaux et al. 2015): forward and backward at sign(w), no scale; w is clipped
// to [−1, 1] after each step. Without a scale it needs a BatchNorm after each quantized layer
// (the -bn models).
#include "engine/quant/ste.h"

namespace qt {

class BinaryConnect : public Ste {
 public:
  using Ste::Ste;
  // w ← clip(w, −1, 1)
  void after_step() override;

 protected:
  ProjectionSpec default_projection() const override { return parse_projection("binary-noscale"); }
};

}  // namespace qt
