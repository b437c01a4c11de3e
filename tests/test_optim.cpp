// Optimizer steps and learning-rate schedules against hand-computed values.
#include <doctest/doctest.h>

#include "engine/core/error.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"

using namespace qt;

namespace {
struct OneParam {
  ParamStore store;
  Param* p;
  OneParam(float w) {
    p = store.add("l", "weight", {1}, ParamRole::Weight);
    store.finalize();
    p->value[0] = w;
  }
};
}  // namespace

TEST_CASE("SGD with momentum and weight decay: two steps by hand") {
  OneParam t(1.0f);
  OptimizerOptions o;
  o.momentum = 0.9f;
  o.weight_decay = 0.1f;
  auto opt = make_optimizer(o, t.store.params());
  t.p->grad[0] = 0.5f;
  opt->step(0.1f);  // d = 0.5 + 0.1·1 = 0.6, b = 0.6, w = 1 − 0.06
  CHECK(t.p->value[0] == doctest::Approx(0.94).epsilon(1e-6));
  opt->step(0.1f);  // d = 0.5 + 0.094 = 0.594, b = 0.54 + 0.594 = 1.134, w = 0.94 − 0.1134
  CHECK(t.p->value[0] == doctest::Approx(0.8266).epsilon(1e-6));
}

TEST_CASE("SGD Nesterov first step and plain SGD") {
  OneParam t(1.0f);
  OptimizerOptions o;
  o.momentum = 0.9f;
  o.nesterov = true;
  o.weight_decay = 0.1f;
  auto opt = make_optimizer(o, t.store.params());
  t.p->grad[0] = 0.5f;
  opt->step(0.1f);  // d = 0.6, b = 0.6, d + μb = 1.14
  CHECK(t.p->value[0] == doctest::Approx(0.886).epsilon(1e-6));

  OneParam u(2.0f);
  o = {};
  o.momentum = 0;
  auto plain = make_optimizer(o, u.store.params());
  u.p->grad[0] = -1.0f;
  plain->step(0.5f);
  CHECK(u.p->value[0] == doctest::Approx(2.5).epsilon(1e-7));
}

TEST_CASE("SGD skips frozen parameters, honours lr_scale and the no-decay flag") {
  ParamStore s;
  Param* a = s.add("l", "a", {1}, ParamRole::Weight);
  Param* b = s.add("l", "b", {1}, ParamRole::Norm);
  Param* c = s.add("l", "c", {1}, ParamRole::Weight);
  s.finalize();
  a->value[0] = b->value[0] = c->value[0] = 1.0f;
  a->grad[0] = b->grad[0] = c->grad[0] = 1.0f;
  a->lr_scale = 0.5f;
  c->trainable = false;
  OptimizerOptions o;
  o.momentum = 0;
  o.weight_decay = 1.0f;
  auto opt = make_optimizer(o, s.params());
  opt->step(0.1f);
  CHECK(a->value[0] == doctest::Approx(1 - 0.05 * 2).epsilon(1e-7));  // decayed, half rate
  CHECK(b->value[0] == doctest::Approx(0.8).epsilon(1e-7));  // BatchNorm's decay too (PyTorch)
  CHECK(c->value[0] == 1.0f);
}

// One step at rate 0.1 on w = 1 with weight decay 1. SGD, gradient 1: 0.8 decayed, 0.9 exempt.
// Adam's first step moves by the rate in the direction of the decayed gradient, so with gradient
// −0.5 a decayed weight (d = 0.5) goes down to 0.9 and an exempt one (d = −0.5) up to 1.1.
TEST_CASE(
    "weight decay: BatchNorm's γ and β by default, exempt with decay_norm false; decay=false "
    "parameters never") {
  for (const std::string name : {"sgd", "adam"})
    for (bool decay_norm : {true, false}) {
      CAPTURE(name);
      CAPTURE(decay_norm);
      ParamStore s;
      Param* w = s.add("l", "weight", {1}, ParamRole::Weight);
      Param* n = s.add("bn", "weight", {1}, ParamRole::Norm);
      Param* p = s.add("proxy", "P", {1}, ParamRole::Weight);
      p->decay = false;
      s.finalize();
      const float g = name == "sgd" ? 1.0f : -0.5f;
      for (Param* q : {w, n, p}) q->value[0] = 1.0f, q->grad[0] = g;
      OptimizerOptions o;
      o.name = name;
      o.momentum = 0;
      o.weight_decay = 1.0f;
      o.decay_norm = decay_norm;
      make_optimizer(o, s.params())->step(0.1f);
      const double decayed = name == "sgd" ? 0.8 : 0.9, exempt = name == "sgd" ? 0.9 : 1.1;
      CHECK(w->value[0] == doctest::Approx(decayed).epsilon(1e-5));
      CHECK(n->value[0] == doctest::Approx(decay_norm ? decayed : exempt).epsilon(1e-5));
      CHECK(p->value[0] == doctest::Approx(exempt).epsilon(1e-5));
    }
}

TEST_CASE("Adam: two steps by hand") {
  OneParam t(1.0f);
  OptimizerOptions o;
  o.name = "adam";
  auto opt = make_optimizer(o, t.store.params());
  t.p->grad[0] = 0.5f;
  opt->step(0.1f);  // m̂ = 0.5, v̂ = 0.25: w = 1 − 0.1·0.5/0.5
  CHECK(t.p->value[0] == doctest::Approx(0.9).epsilon(1e-5));
  opt->step(0.1f);  // same ratio again
  CHECK(t.p->value[0] == doctest::Approx(0.8).epsilon(1e-5));
  CHECK(opt->steps() == 2);
  CHECK(opt->state().size() == 2);
}

TEST_CASE("unknown optimizer is a usage error") {
  OneParam t(1.0f);
  OptimizerOptions o;
  o.name = "sgdd";
  CHECK_THROWS_AS(make_optimizer(o, t.store.params()), UsageError);
}

TEST_CASE("learning-rate schedules") {
  ScheduleOptions s;
  CHECK(learning_rate(s, 0.1f, 57, 100) == 0.1f);
  s.name = "multistep";
  s.milestones = {80, 140};
  CHECK(learning_rate(s, 0.1f, 79, 200) == doctest::Approx(0.1));
  CHECK(learning_rate(s, 0.1f, 80, 200) == doctest::Approx(0.01));
  CHECK(learning_rate(s, 0.1f, 139, 200) == doctest::Approx(0.01));
  CHECK(learning_rate(s, 0.1f, 140, 200) == doctest::Approx(0.001));
  s = {};
  s.name = "cosine";
  s.min_lr = 0.01f;
  CHECK(learning_rate(s, 0.1f, 0, 10) == doctest::Approx(0.1));
  CHECK(learning_rate(s, 0.1f, 5, 10) == doctest::Approx(0.055));
  CHECK(learning_rate(s, 0.1f, 10, 10) == doctest::Approx(0.01));
  s = {};
  s.name = "exponential";
  s.gamma = 0.5f;
  CHECK(learning_rate(s, 0.8f, 3, 10) == doctest::Approx(0.1));
  s.name = "linear";
  CHECK_THROWS_AS(validate_schedule(s, 10), UsageError);
  s.name = "multistep";
  s.milestones = {5, 3};
  CHECK_THROWS_AS(validate_schedule(s, 10), UsageError);
}
