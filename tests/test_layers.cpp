// Finite-difference gradient checks for every layer (one line each), and shape checks.
#include "gradcheck.h"
#include "engine/layers/linear.h"

using namespace qt;

TEST_CASE("linear gradients") {
  ParamStore s;
  Linear l(s, "fc", 7, 5);
  test::check_gradients(l, s, {4, 7});
}

TEST_CASE("linear without bias, batch larger than one task") {
  ParamStore s;
  Linear l(s, "fc", 9, 40, false);
  test::check_gradients(l, s, {70, 9});
}
