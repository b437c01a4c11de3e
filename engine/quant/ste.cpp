#include "engine/quant/ste.h"

namespace qt {

void Ste::before_forward() {
  for (QuantTarget& t : targets_) {
    project(t);
    use(t, t.q);
  }
}

}  // namespace qt
