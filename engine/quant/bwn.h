#pragma once
// bwn (XNOR-Net's binary weights): forward and backward at α·sign(w) with α = mean|w| per output
// channel; w updated through the STE, no clipping.
#include "engine/quant/ste.h"

namespace qt {

class Bwn : public Ste {
 public:
  using Ste::Ste;

 protected:
  ProjectionSpec default_projection() const override {
    return parse_projection("binary", 0, 1, /*per_channel=*/true);
  }
};

}  // namespace qt
