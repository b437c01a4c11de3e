// The training algorithms of docs/math.md §3 on the weight seam, hook by hook, without training:
// BinaryRelax's relaxation and schedules, BCGD's blend, ρ, η and activation quantizer, the sign
// activations, layer selection, Iterative Training's orders and schedule, ProxyBNN's chain rule,
// and the algorithm options of the config schema.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "app/config/config.h"
#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/layers/linear.h"
#include "engine/models/model.h"
#include "engine/quant/act_quantizer.h"
#include "engine/quant/bcgd.h"
#include "engine/quant/binaryrelax.h"
#include "engine/quant/iterative.h"
#include "engine/quant/make_algorithm.h"
#include "engine/quant/proxybnn.h"
#include "engine/quant/sensitivity.h"
#include "engine/quant/sign_activation.h"
#include "gradcheck.h"

using namespace qt;
using json = nlohmann::json;

namespace {

struct Setup {
  std::unique_ptr<QuantAlgorithm> algo;
  std::unique_ptr<Model> model;
};

Setup setup(const AlgoOptions& a, const std::string& model = "lenet5") {
  Setup s;
  s.algo = make_quant_algorithm(a);
  ModelOptions mo = natural_options(model);
  s.algo->configure(mo);
  s.model = make_model(model, mo);
  s.model->init(3);
  s.algo->attach(*s.model);
  return s;
}

AlgoOptions algo(const std::string& name) {
  AlgoOptions a;
  a.name = name;
  return a;
}

std::vector<std::string> target_names(QuantAlgorithm& a) {
  std::vector<std::string> r;
  for (auto& t : a.targets()) r.push_back(t.layer());
  return r;
}

Tensor random_tensor(Shape s, uint64_t seed, float scale = 1.0f) {
  Tensor t(std::move(s));
  Rng rng(seed);
  for (float& v : t.span()) v = rng.normal() * scale;
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.size() != b.size()) return false;
  for (int64_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

Tensor projected(const ProjectionSpec& spec, const Tensor& w, int64_t rows) {
  Tensor q(w.shape());
  project(spec, w.span(), q.span(), rows);
  return q;
}

// Runs a layer on x, then its backward with dy; returns y and fills dx.
Tensor run_layer(Layer& l, const Tensor& x, const Tensor& dy, Tensor& dx, bool training = true) {
  Context ctx;
  ctx.training = training;
  Tensor y;
  l.forward(x, y, ctx);
  l.backward(x, y, dy, &dx);
  return y;
}

Tensor vec(std::initializer_list<float> v) {
  Tensor t({static_cast<int64_t>(v.size())});
  int64_t i = 0;
  for (float x : v) t[i++] = x;
  return t;
}

void check_values(const Tensor& got, std::initializer_list<float> want, const char* what) {
  REQUIRE(got.size() == static_cast<int64_t>(want.size()));
  int64_t i = 0;
  for (float w : want) {
    CHECK_MESSAGE(got[i] == doctest::Approx(w).epsilon(1e-6),
                  what << "[" << i << "]: got " << got[i] << ", want " << w);
    ++i;
  }
}

// Q(w) of the default binary projection, written out: α = mean|w| over the tensor, α·sign(w) with
// sign(0) = +1 (docs/math.md §1).
std::vector<double> binary_by_hand(const Tensor& w) {
  double sum = 0;
  for (int64_t i = 0; i < w.size(); ++i) sum += std::fabs(static_cast<double>(w[i]));
  const double alpha = static_cast<float>(sum / static_cast<double>(w.size()));
  std::vector<double> q(w.size());
  for (int64_t i = 0; i < w.size(); ++i) q[i] = w[i] >= 0 ? alpha : -alpha;
  return q;
}

// How many elements of `got` differ from `want` by more than float rounding at the scale of w
// and Q(w).
int count_off(const Tensor& got, const std::vector<double>& want, const Tensor& w,
              const std::vector<double>& q) {
  REQUIRE(got.size() == static_cast<int64_t>(want.size()));
  int off = 0;
  for (int64_t i = 0; i < got.size(); ++i)
    off += std::fabs(got[i] - want[i]) > 1e-6 * (std::fabs(w[i]) + std::fabs(q[i]));
  return off;
}

}  // namespace

// ---------------------------------------------------------------- BinaryRelax

TEST_CASE("binaryrelax: u at λ = 0 is w, at λ = 1e9 is Q(w) to float precision") {
  Tensor w = random_tensor({4000}, 1, 0.1f);
  Tensor q = projected(parse_projection("binary"), w, 1);
  Tensor u(w.shape());
  relax_mix(w, q, 0.0, u);
  CHECK(same_bits(u, w));
  relax_mix(w, q, 1e9, u);
  int bad = 0;
  for (int64_t i = 0; i < u.size(); ++i) bad += std::fabs(u[i] - q[i]) > 3e-7f * std::fabs(q[i]);
  CHECK(bad == 0);
  relax_mix(w, q, std::numeric_limits<double>::infinity(), u);
  CHECK(same_bits(u, q));
  // In between, against the formula: u = (λ·Q(w) + w)/(1 + λ).
  std::vector<double> qd(q.data(), q.data() + q.size());
  for (double lam : {0.04, 0.5, 1.0, 1.04, 3.0, 25.0}) {
    relax_mix(w, q, lam, u);
    std::vector<double> want(w.size());
    for (int64_t i = 0; i < w.size(); ++i) want[i] = (lam * q[i] + w[i]) / (1 + lam);
    CHECK_MESSAGE(count_off(u, want, w, qd) == 0, "λ = " << lam);
  }
}

TEST_CASE("binaryrelax: λ of epoch e is λ0·γ^(e+1), and the used weights are u at that λ") {
  AlgoOptions a = algo("binaryrelax");
  a.phase2_epoch = 8;
  for (int e = 0; e < 6; ++e)
    CHECK(relax_lambda(a, e) == doctest::Approx(std::pow(1.04, e + 1)).epsilon(1e-12));
  a.lambda0 = 0.5;
  a.lambda_growth = 2;
  CHECK(relax_lambda(a, 0) == 1.0);
  CHECK(relax_lambda(a, 3) == 8.0);

  Setup s = setup(a);
  REQUIRE(target_names(*s.algo) == std::vector<std::string>{"conv1", "conv2"});
  for (int e = 0; e < 4; ++e) {
    s.algo->start_epoch(e, 10);
    s.algo->before_forward();
    const double lam = 0.5 * std::pow(2.0, e + 1);
    for (auto& t : s.algo->targets()) {
      const Tensor& w = t.param->value;
      const std::vector<double> q = binary_by_hand(w);
      std::vector<double> u(q.size());
      for (size_t i = 0; i < q.size(); ++i) u[i] = (lam * q[i] + w[i]) / (1 + lam);
      CHECK_MESSAGE(count_off(t.param->used, u, w, q) == 0, t.layer() << " at epoch " << e);
    }
    CHECK(s.algo->epoch_record()["lambda"].get<double>() == doctest::Approx(lam));
    CHECK(s.algo->epoch_record()["phase"] == 1);
  }
  // Layers outside the selection keep reading their float masters.
  Param* fc1 = s.model->params.find("fc1.weight");
  CHECK(!fc1->substituted());
}

TEST_CASE("binaryrelax: the linear schedule rises per step from θ = 0 to 1 over phase I") {
  AlgoOptions a = algo("binaryrelax");
  a.lambda_schedule = LambdaSchedule::Linear;
  a.phase2_epoch = 4;
  a.steps_per_epoch = 10;
  CHECK(relax_theta(a, 0, 0) == 0.0);
  CHECK(relax_theta(a, 2, 0) == doctest::Approx(0.5));
  CHECK(relax_theta(a, 3, 9) == doctest::Approx(39.0 / 40));
  CHECK(relax_theta(a, 4, 0) == 1.0);
  double prev = -1;
  for (int e = 0; e < 5; ++e)
    for (int s = 0; s < 10; ++s) {
      CHECK(relax_theta(a, e, s) >= prev);
      prev = relax_theta(a, e, s);
    }
  // θ = 0: the forward reads w itself.
  Setup s = setup(a);
  s.algo->start_epoch(0, 6);
  s.algo->before_forward();
  for (auto& t : s.algo->targets()) CHECK(same_bits(t.param->used, t.param->value));
  // Within phase I, against the formula: u = (1 − θ)·w + θ·Q(w), θ = (10·e + s)/40 at step s of
  // epoch e.
  for (auto [e, steps] : {std::pair{0, 3}, {1, 0}, {2, 7}, {3, 9}}) {
    s.algo->start_epoch(e, 6);
    for (int k = 0; k < steps; ++k) s.algo->after_step();
    s.algo->before_forward();
    const double theta = (10.0 * e + steps) / 40.0;
    for (auto& t : s.algo->targets()) {
      const Tensor& w = t.param->value;
      const std::vector<double> q = binary_by_hand(w);
      std::vector<double> u(q.size());
      for (size_t i = 0; i < q.size(); ++i) u[i] = (1 - theta) * w[i] + theta * q[i];
      CHECK_MESSAGE(count_off(t.param->used, u, w, q) == 0,
                    t.layer() << " at epoch " << e << ", step " << steps);
    }
    CHECK(s.algo->epoch_record()["theta"].get<double>() ==
          doctest::Approx(steps ? (10.0 * e + steps - 1) / 40.0 : 10.0 * e / 40.0));
  }
}

TEST_CASE("binaryrelax: phase I is evaluated at u and at Q(w); phase II evaluates exactly Q(w)") {
  AlgoOptions a = algo("binaryrelax");
  a.phase2_epoch = 2;
  Setup s = setup(a);
  auto& alg = *s.algo;
  alg.start_epoch(1, 4);
  CHECK(alg.eval_variants() == std::vector<std::string>{"quantized"});
  CHECK(alg.quantized_params().empty());
  alg.begin_eval();
  for (auto& t : alg.targets()) CHECK(distinct_values(t.param->used.span()) > 2);
  alg.set_eval_variant("quantized");
  alg.begin_eval();
  for (auto& t : alg.targets()) {
    CHECK(same_bits(t.param->used, projected(t.spec, t.param->value, t.rows)));
    CHECK(distinct_values(t.param->used.span()) == 2);
  }
  alg.set_eval_variant("");

  alg.start_epoch(2, 4);
  CHECK(alg.eval_variants().empty());
  CHECK(alg.epoch_record()["phase"] == 2);
  alg.before_forward();
  for (auto& t : alg.targets())
    CHECK(same_bits(t.param->used, projected(t.spec, t.param->value, t.rows)));
  alg.begin_eval();
  auto qp = alg.quantized_params();
  REQUIRE(qp.size() == 2);
  for (auto& [p, n] : qp) {
    CHECK(n == 2);
    CHECK(same_bits(p->used, projected(parse_projection("binary"), p->value, 1)));
  }
}

// ---------------------------------------------------------------- BCGD

TEST_CASE("bcgd: ρ grows per epoch up to its cap; η grows every half epoch until relax-until") {
  AlgoOptions a = algo("bcgd");
  CHECK(bcgd_rho(a, 0) == 1e-5);
  CHECK(bcgd_rho(a, 50) == 1e-5);
  a.rho_rate = 2;
  CHECK(bcgd_rho(a, 0) == doctest::Approx(2e-5));
  CHECK(bcgd_rho(a, 2) == doctest::Approx(8e-5));
  CHECK(bcgd_rho(a, 30) == 0.01);

  CHECK(bcgd_eta(a, 0, 0) == 0.0);  // not relaxing
  a.relax = true;
  a.relax_until = 2;
  a.steps_per_epoch = 5;  // half epoch = 3 steps: growth at steps 0 and 3
  const double g = 1.02;
  CHECK(bcgd_eta(a, 0, 0) == doctest::Approx(g));
  CHECK(bcgd_eta(a, 0, 2) == doctest::Approx(g));
  CHECK(bcgd_eta(a, 0, 3) == doctest::Approx(g * g));
  CHECK(bcgd_eta(a, 1, 0) == doctest::Approx(g * g * g));
  CHECK(bcgd_eta(a, 1, 4) == doctest::Approx(std::pow(g, 4)));
  CHECK(bcgd_eta(a, 2, 0) == 0.0);
  a.steps_per_epoch = 1;
  CHECK(bcgd_eta(a, 1, 0) == doctest::Approx(g * g));
}

TEST_CASE("bcgd: the blend w ← (1−ρ)w + ρQ(w) happens between backward and the step") {
  AlgoOptions a = algo("bcgd");
  a.rho = 0.25;
  a.rho_max = 1;
  a.act = "relu";
  Setup s = setup(a);
  s.algo->start_epoch(0, 3);
  s.algo->before_forward();
  std::vector<Tensor> w0, q;
  for (auto& t : s.algo->targets()) {
    Tensor w(t.param->shape), u(t.param->shape);
    w.copy_from(t.param->value);
    u.copy_from(t.param->used);
    w0.push_back(std::move(w));
    q.push_back(std::move(u));
    CHECK(same_bits(q.back(), projected(t.spec, t.param->value, t.rows)));
  }
  s.algo->adjust_gradients();
  for (size_t k = 0; k < w0.size(); ++k) {
    const Tensor& w = s.algo->targets()[k].param->value;
    int bad = 0;
    for (int64_t i = 0; i < w.size(); ++i) bad += w[i] != 0.75f * w0[k][i] + 0.25f * q[k][i];
    CHECK(bad == 0);
  }
  CHECK(s.algo->epoch_record()["rho"].get<double>() == 0.25);
}

TEST_CASE("bcgd replaces every activation site by the quantizer; --act relu keeps ReLU") {
  Setup s = setup(algo("bcgd"));
  CHECK(s.algo->act_quantizers().size() == 4);
  for (ActQuantizer* q : s.algo->act_quantizers())
    CHECK(q->alpha_value() == doctest::Approx(0.1946f));
  auto rec = s.algo->epoch_record();
  CHECK(rec["alpha"].size() == 4);
  AlgoOptions a = algo("bcgd");
  a.act = "relu";
  CHECK(setup(a).algo->act_quantizers().empty());
  a = algo("ste");
  a.act = "quant";
  a.act_bits = 2;
  Setup t = setup(a);
  REQUIRE(t.algo->act_quantizers().size() == 4);
  CHECK(t.algo->act_quantizers()[0]->alpha_value() == doctest::Approx(0.6511f));
}

// ---------------------------------------------------------------- activation quantizer

TEST_CASE("activation quantizer: forward levels and every backward variant by hand") {
  // L = 3, α = 0.5, Lα = 1.5
  const Tensor x = vec({-0.5f, 0.2f, 0.5f, 0.7f, 1.4f, 1.5f, 2.0f});
  const Tensor dy = vec({1, 2, 3, 4, 5, 6, 7});
  struct Case {
    AlphaGrad g;
    float want;  // 0.01 · Σ dy·∂σ/∂α: inside (0, 1.5] dy = 2..6, above dy = 7 (×L = 21)
  };
  for (Case c : {Case{AlphaGrad::Mean, 0.61f}, Case{AlphaGrad::Min, 0.41f},
                 Case{AlphaGrad::Ae, 0.67f}, Case{AlphaGrad::Pact, 0.21f}}) {
    ParamStore st;
    ActQuantConfig cfg;
    cfg.bits = 2;
    cfg.alpha_grad = c.g;
    cfg.alpha_init = 0.5f;
    ActQuantizer q(st, "act", cfg);
    st.finalize();
    Rng rng(0);
    q.init(rng);
    Tensor dx;
    Tensor y = run_layer(q, x, dy, dx);
    check_values(y, {0, 0.5f, 0.5f, 1.0f, 1.5f, 1.5f, 1.5f}, "y");
    check_values(dx, {0, 2, 3, 4, 5, 6, 0}, "dx (inplt)");
    CHECK(q.alpha()->grad[0] == doctest::Approx(c.want).epsilon(1e-6));
  }
  for (auto [bw, want] : {std::pair{ActBackward::Relu, std::vector<float>{0, 2, 3, 4, 5, 6, 7}},
                          std::pair{ActBackward::Idnty, std::vector<float>{1, 2, 3, 4, 5, 6, 7}}}) {
    ParamStore st;
    ActQuantConfig cfg;
    cfg.bits = 2;
    cfg.backward = bw;
    cfg.alpha_init = 0.5f;
    ActQuantizer q(st, "act", cfg);
    st.finalize();
    Rng rng(0);
    q.init(rng);
    Tensor dx;
    run_layer(q, x, dy, dx);
    for (size_t i = 0; i < want.size(); ++i) CHECK(dx[i] == want[i]);
  }
}

TEST_CASE(
    "activation quantizer: α's gradient is clipped to [-1, 1], α clamped to [1e-3, 5], calibrated "
    "when not learning") {
  ParamStore st;
  ActQuantConfig cfg;
  cfg.bits = 2;
  cfg.alpha_init = 0.5f;
  cfg.rate = 1.0f;
  ActQuantizer q(st, "act", cfg);
  st.finalize();
  Rng rng(0);
  q.init(rng);
  const Tensor x = vec({-0.5f, 0.2f, 0.5f, 0.7f, 1.4f, 1.5f, 3.0f});
  Tensor dy = vec({1, 2, 3, 4, 5, 6, 7}), dx;
  run_layer(q, x, dy, dx);
  CHECK(q.alpha()->grad[0] == 1.0f);
  for (float& v : dy.span()) v = -v;
  run_layer(q, x, dy, dx);
  CHECK(q.alpha()->grad[0] == -1.0f);

  q.alpha()->value[0] = 10.0f;
  run_layer(q, x, dy, dx);
  CHECK(q.alpha_value() == 5.0f);
  q.alpha()->value[0] = -1.0f;
  run_layer(q, x, dy, dx);
  CHECK(q.alpha_value() == 1e-3f);

  // Not learning: a training batch sets α = max(x)/L, evaluation leaves it, and it gets no
  // gradient.
  q.set_learning(false);
  CHECK(!q.alpha()->trainable);
  run_layer(q, x, dy, dx);
  CHECK(q.alpha_value() == 1.0f);
  CHECK(q.alpha()->grad[0] == 0.0f);
  Tensor x2 = vec({0.3f, 6.0f});
  Tensor dy2 = vec({1, 1}), dx2;
  run_layer(q, x2, dy2, dx2, /*training=*/false);
  CHECK(q.alpha_value() == 1.0f);
  q.set_learning(true);
  CHECK(q.alpha()->trainable);
}

TEST_CASE("activation quantizer: the ae α-gradient matches finite differences") {
  // Away from the jumps (x/α at least 0.2 from an integer) σ = ⌈x/α⌉·α is linear in α with slope
  // ⌈x/α⌉ inside and L above, so the ae gradient is the exact derivative there.
  ParamStore st;
  ActQuantConfig cfg;
  cfg.bits = 4;  // L = 15
  cfg.alpha_grad = AlphaGrad::Ae;
  cfg.alpha_init = 0.3f;
  cfg.rate = 1.0f;
  ActQuantizer q(st, "act", cfg);
  st.finalize();
  Rng rng(5);
  q.init(rng);
  Tensor x({200}), r({200});
  for (int64_t i = 0; i < x.size(); ++i) {
    const float k = static_cast<float>(static_cast<int>(rng.below(20)) - 3);  // −3 … 16
    x[i] = (k + rng.uniform(0.25f, 0.75f)) * 0.3f;
    r[i] = rng.normal() * 0.002f;  // small, so that the summed gradient stays inside the clip
  }
  Tensor dx;
  run_layer(q, x, r, dx);
  const double analytic = q.alpha()->grad[0];
  REQUIRE(std::fabs(analytic) < 1.0);
  auto loss = [&](float a) {
    q.alpha()->value[0] = a;
    Tensor y;
    Context ctx;
    q.forward(x, y, ctx);
    return test::weighted_sum(y, r);
  };
  const float eps = 1e-3f;
  const double numeric = (loss(0.3f + eps) - loss(0.3f - eps)) / (2 * eps);
  CHECK(analytic == doctest::Approx(numeric).epsilon(2e-3));
}

TEST_CASE(
    "activation quantizer: on large tensors the kernels equal the element formulas, for 1 and 2 "
    "threads") {
  // 100 003 elements: several chunks of the α-gradient sum and a ragged tail. Values on the level
  // boundaries kα, above Lα, ±0, huge, tiny and NaN, among normal ones.
  const int64_t n = 100003;
  const float alpha = 0.3f;
  Tensor x({n}), dy({n});
  Rng rng(11);
  const float specials[] = {0.0f, -0.0f, 0.3f,   0.6f,   4.5f,
                            4.6f, 1e30f, -1e30f, 1e-30f, std::numeric_limits<float>::quiet_NaN()};
  for (int64_t i = 0; i < n; ++i) {
    x[i] = i % 97 < 10 ? specials[i % 97] : 2.0f * rng.normal();
    dy[i] = rng.normal();
  }
  auto bits_equal = [](const Tensor& a, const Tensor& b) {
    for (int64_t i = 0; i < a.size(); ++i)
      if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return false;
    return true;
  };
  for (AlphaGrad g : {AlphaGrad::Mean, AlphaGrad::Min, AlphaGrad::Ae, AlphaGrad::Pact})
    for (ActBackward bw : {ActBackward::Inplt, ActBackward::Relu, ActBackward::Idnty}) {
      CAPTURE(static_cast<int>(g));
      CAPTURE(static_cast<int>(bw));
      ActQuantConfig cfg;
      cfg.bits = 4;  // L = 15, Lα = 4.5
      cfg.alpha_grad = g;
      cfg.backward = bw;
      cfg.alpha_init = alpha;
      cfg.rate = 1e-6f;  // keeps the sum inside the clip
      const float top = 15.0f, lim = top * alpha;
      // The formulas of the header, one element at a time.
      Tensor want_y({n}), want_dx({n});
      double want_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        want_y[i] = v > 0.0f ? std::min(std::ceil(v / alpha), top) * alpha : 0.0f;
        const bool pass =
            bw == ActBackward::Idnty || (v > 0.0f && (bw == ActBackward::Relu || v <= lim));
        want_dx[i] = pass ? dy[i] : 0.0f;
        if (!(v > 0.0f)) continue;
        float d = g == AlphaGrad::Mean ? 8.0f : g == AlphaGrad::Min ? 1.0f : 0.0f;
        if (g == AlphaGrad::Ae) d = std::min(std::ceil(v / alpha), top);
        if (v > lim) d = top;
        want_sum += static_cast<double>(dy[i]) * d;
      }
      float grads[2];
      for (int threads : {1, 2}) {
        set_threads(threads);
        ParamStore st;
        ActQuantizer q(st, "act", cfg);
        st.finalize();
        Rng r(0);
        q.init(r);
        Tensor dx;
        const Tensor y = run_layer(q, x, dy, dx);
        CHECK(bits_equal(y, want_y));
        CHECK(bits_equal(dx, want_dx));
        grads[threads - 1] = q.alpha()->grad[0];
        CHECK(grads[threads - 1] == doctest::Approx(want_sum * 1e-6).epsilon(1e-6));
      }
      set_threads(0);
      CHECK(std::bit_cast<uint32_t>(grads[0]) == std::bit_cast<uint32_t>(grads[1]));
    }
}

// ---------------------------------------------------------------- sign activations

TEST_CASE("sign activation: sign(0) = +1; hardtanh and Bi-Real backward by hand") {
  const Tensor x = vec({-2, -1, -0.5f, 0, 0.25f, 1, 1.5f});
  const Tensor dy = vec({1, 1, 1, 1, 1, 1, 1});
  SignActivation h("act", SignBackward::Hardtanh), b("act", SignBackward::BiReal);
  Tensor dx;
  Tensor y = run_layer(h, x, dy, dx);
  check_values(y, {-1, -1, -1, 1, 1, 1, 1}, "y");
  check_values(dx, {0, 1, 1, 1, 1, 1, 0}, "dx (hardtanh)");
  run_layer(b, x, dy, dx);
  check_values(dx, {0, 0, 1, 2, 1.5f, 0, 0}, "dx (Bi-Real)");
}

TEST_CASE("--act binary puts sign activations at every site of any algorithm") {
  for (const char* name : {"float", "ste", "iterative"}) {
    AlgoOptions a = algo(name);
    a.act = "binary-bireal";
    a.epochs_per_layer = 1;
    Setup s = setup(a);
    int signs = 0;
    for (Layer* l : s.model->layers()) signs += l->kind() == "sign";
    CHECK_MESSAGE(signs == 4, name);
  }
}

// ---------------------------------------------------------------- layer selection

TEST_CASE("layer selection: each algorithm's default, and the overrides") {
  using V = std::vector<std::string>;
  CHECK(target_names(*setup(algo("binaryrelax")).algo) == V{"conv1", "conv2"});
  CHECK(target_names(*setup(algo("bcgd")).algo) == V{"conv1", "conv2"});
  CHECK(target_names(*setup(algo("ste")).algo) == V{"conv1", "conv2", "fc1", "fc2"});
  CHECK(target_names(*setup(algo("proxybnn")).algo) == V{"conv1", "conv2", "fc1", "fc2"});
  CHECK(target_names(*setup(algo("iterative")).algo) == V{"conv1", "conv2", "fc1", "fc2", "fc3"});
  CHECK(target_names(*setup(algo("float")).algo).empty());
  // A model without conv: BinaryRelax and BCGD fall back to every layer but the classifier.
  CHECK(target_names(*setup(algo("binaryrelax"), "mlp").algo) == V{"fc1", "fc2"});

  AlgoOptions a = algo("ste");
  a.layers = {"fc1", "conv2"};
  CHECK(target_names(*setup(a).algo) == V{"conv2", "fc1"});
  a.layers = {"conv"};
  a.last_layer = LayerForce::Quantized;
  CHECK(target_names(*setup(a).algo) == V{"conv1", "conv2", "fc3"});
  a = algo("ste");
  a.first_layer = LayerForce::Float;
  CHECK(target_names(*setup(a).algo) == V{"conv2", "fc1", "fc2"});
  a = algo("iterative");
  a.layers = {"linear"};
  a.last_layer = LayerForce::Float;
  CHECK(target_names(*setup(a).algo) == V{"fc1", "fc2"});

  a = algo("ste");
  a.layers = {"conv3"};
  try {
    setup(a);
    FAIL("an unknown layer name must throw");
  } catch (const UsageError& e) {
    CHECK(std::string(e.what()).find("conv1, conv2, fc1, fc2, fc3") != std::string::npos);
  }
}

TEST_CASE("describe_layers names every layer, what it becomes, and the activation sites") {
  AlgoOptions a = algo("bcgd");
  const std::string d = describe_layers("lenet5", natural_options("lenet5"), a);
  INFO(d);
  for (const char* s :
       {"conv1", "conv2", "fc3", "quantized: binary", "float", "b-bit quantizer (4 bits"})
    CHECK(d.find(s) != std::string::npos);
  a = algo("iterative");
  a.epochs_per_layer = 3;
  a.order = "reverse";
  const std::string it = describe_layers("lenet5", natural_options("lenet5"), a);
  CHECK(it.find("binary from epoch 13 (order position 5)") != std::string::npos);
  a.epochs_per_layer = 0;  // spread over 10 epochs: 5 layers from epochs 0, 2, 4, 6, 8 (0-based)
  const std::string spread = describe_layers("lenet5", natural_options("lenet5"), a, 10);
  CHECK(spread.find("binary from epoch 9 (order position 5)") != std::string::npos);
  CHECK(spread.find("binary from epoch 1 (order position 1)") != std::string::npos);
}

// ---------------------------------------------------------------- Iterative Training

TEST_CASE("iterative: the binary layers of every epoch, for each order") {
  using V = std::vector<std::string>;
  const V all = {"conv1", "conv2", "fc1", "fc2", "fc3"};
  auto binary_at = [](AlgoOptions a, int epoch) {
    Setup s = setup(a);
    s.algo->start_epoch(epoch, 100);
    s.algo->before_forward();
    auto& it = dynamic_cast<Iterative&>(*s.algo);
    // binary layers read ±1, the others their float masters
    for (auto& t : it.targets()) {
      const bool bin = it.quantized_now(t);
      CHECK(t.param->substituted() == bin);
      if (bin) CHECK(distinct_values(t.param->used.span()) <= 2);
    }
    CHECK(s.algo->epoch_record()["binary_layers"].get<V>() == it.binary_layers());
    CHECK(it.quantized_params().size() == it.binary_layers().size());
    return it.binary_layers();
  };
  AlgoOptions a = algo("iterative");
  a.epochs_per_layer = 2;
  CHECK(binary_at(a, 0) == V{"conv1"});
  CHECK(binary_at(a, 1) == V{"conv1"});
  CHECK(binary_at(a, 2) == V{"conv1", "conv2"});
  CHECK(binary_at(a, 8) == all);
  CHECK(binary_at(a, 50) == all);
  a.order = "reverse";
  CHECK(binary_at(a, 0) == V{"fc3"});
  CHECK(binary_at(a, 5) == V{"fc3", "fc2", "fc1"});
  a.order = "fc1,conv1,fc3,conv2,fc2";
  CHECK(binary_at(a, 0) == V{"fc1"});
  CHECK(binary_at(a, 3) == V{"fc1", "conv1"});

  a.order = "random";
  a.seed = 11;
  const V r = iterative_order(all, "random", 11);
  CHECK(std::set<std::string>(r.begin(), r.end()) == std::set<std::string>(all.begin(), all.end()));
  CHECK(iterative_order(all, "random", 11) == r);
  bool differs = false;
  for (uint64_t s = 12; s < 20; ++s) differs |= iterative_order(all, "random", s) != r;
  CHECK(differs);
  CHECK(binary_at(a, 4) == V{r[0], r[1], r[2]});

  // Sensitivity orders: least sensitive (highest validation accuracy) first, or last.
  const std::string path =
      (std::filesystem::temp_directory_path() / "qtrain_test_sensitivity.json").string();
  SensitivityReport rep;
  rep.model = "lenet5";
  rep.layers = {{"conv1", 0.70, 0.9},
                {"conv2", 0.80, 0.6},
                {"fc1", 0.85, 0.5},
                {"fc2", 0.80, 0.5},
                {"fc3", 0.60, 1.2}};
  write_sensitivity(path, rep);
  a.order = "sensitivity-ascending:" + path;
  CHECK(binary_at(a, 8) == V{"fc1", "fc2", "conv2", "conv1", "fc3"});
  a.order = "sensitivity-descending:" + path;
  CHECK(binary_at(a, 0) == V{"fc3"});
  CHECK(iterative_order(all, a.order, 0) == V{"fc3", "conv1", "conv2", "fc2", "fc1"});
  rep.model = "mlp";
  write_sensitivity(path, rep);
  CHECK_THROWS_AS(iterative_order(all, a.order, 0, "lenet5"), UsageError);
  std::filesystem::remove(path);
  CHECK_THROWS_AS(iterative_order(all, a.order, 0), DataError);
}

TEST_CASE("iterative: explicit orders are validated with clear errors") {
  const std::vector<std::string> all = {"conv1", "conv2", "fc1", "fc2", "fc3"};
  auto message = [&](const std::string& order) {
    try {
      iterative_order(all, order, 0);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("conv1,conv2,fc1,fc2,bogus").find("'bogus' is not a quantized layer") !=
        std::string::npos);
  CHECK(message("conv1,conv2,fc1,fc2,bogus").find("conv1, conv2, fc1, fc2, fc3") !=
        std::string::npos);
  CHECK(message("conv1,conv2").find("missing fc1, fc2, fc3") != std::string::npos);
  CHECK(message("conv1,conv1,fc1,fc2,fc3").find("appears twice") != std::string::npos);
  CHECK(message("sideways").find("expected forward, reverse, random") != std::string::npos);
  CHECK(message("sensitivity-ascending").find("sensitivity-ascending:FILE") != std::string::npos);
  CHECK(message("fc3,fc2,fc1,conv2,conv1") == "no error");
}

TEST_CASE("iterative: the schedule check and the binary count") {
  CHECK(binary_count(0, 3, 5, 200) == 1);
  CHECK(binary_count(2, 3, 5, 200) == 1);
  CHECK(binary_count(3, 3, 5, 200) == 2);
  CHECK(binary_count(100, 3, 5, 200) == 5);
  CHECK_NOTHROW(check_iterative_schedule(5, 2, 9));
  CHECK_THROWS_AS(check_iterative_schedule(5, 2, 8), UsageError);
  CHECK_NOTHROW(check_iterative_schedule(5, 0, 1));  // spread fits any length
}

TEST_CASE("iterative: E = 0 spreads the layers over the run, layer i from epoch ⌊i·epochs/L⌋") {
  CHECK(first_binary_epoch(2, 0, 3, 450) == 300);  // the paper's MLP: E = 150 of 450 epochs
  CHECK(first_binary_epoch(2, 0, 3, 10) == 6);
  CHECK(first_binary_epoch(4, 0, 5, 1) == 0);
  for (int layers : {1, 3, 5, 20})
    for (int epochs : {1, 2, 3, 6, 10, 19, 20, 21, 450}) {
      CAPTURE(layers);
      CAPTURE(epochs);
      // the count agrees with the first epochs, the first layer is binary from the start and the
      // last is binary in the final epoch: every layer is binary for at least one epoch
      for (int e = 0; e < epochs; ++e) {
        int by_first = 0;
        for (int r = 0; r < layers; ++r) by_first += first_binary_epoch(r, 0, layers, epochs) <= e;
        CHECK(binary_count(e, 0, layers, epochs) == by_first);
      }
      CHECK(binary_count(0, 0, layers, epochs) >= 1);
      CHECK(binary_count(epochs - 1, 0, layers, epochs) == layers);
      if (epochs >= layers)  // one layer at a time when the run is long enough
        for (int e = 0; e < epochs; ++e) CHECK(binary_count(e, 0, layers, epochs) <= e + 1);
    }
}

TEST_CASE("iterative: a mid-epoch resume gets the binary layers and flip references back") {
  AlgoOptions a = algo("iterative");
  a.epochs_per_layer = 2;
  Setup s = setup(a);
  s.algo->start_epoch(4, 10);
  s.algo->before_forward();
  s.algo->after_step();
  const json state = s.algo->state_json();
  Setup r = setup(a);
  r.algo->load_state_json(state);
  auto tensors_a = s.algo->state_tensors(), tensors_b = r.algo->state_tensors();
  REQUIRE(tensors_a.size() == tensors_b.size());
  for (size_t i = 0; i < tensors_a.size(); ++i) {
    CHECK(tensors_a[i].first == tensors_b[i].first);
    tensors_b[i].second->copy_from(*tensors_a[i].second);
  }
  CHECK(dynamic_cast<Iterative&>(*r.algo).binary_layers() ==
        dynamic_cast<Iterative&>(*s.algo).binary_layers());
  CHECK(r.algo->state_json() == state);
}

// ---------------------------------------------------------------- ProxyBNN

TEST_CASE("proxybnn: row lengths") {
  CHECK(proxy_row_length({6, 1, 5, 5}, 16) == 25);
  CHECK(proxy_row_length({64, 32, 3, 3}, 16) == 9);
  CHECK(proxy_row_length({120, 400}, 16) == 16);
  CHECK(proxy_row_length({84, 120}, 16) == 15);
  CHECK(proxy_row_length({10, 84}, 16) == 14);
  CHECK(proxy_row_length({10, 17}, 16) == 1);
  CHECK(proxy_row_length({10, 84}, 4) == 4);
}

TEST_CASE("proxybnn: at initialisation W̃ = w, and with P = I the forward is BWN's on C") {
  Setup p = setup(algo("proxybnn"));
  Setup b = setup(algo("bwn"));
  auto& prox = dynamic_cast<ProxyBnn&>(*p.algo);
  REQUIRE(prox.targets().size() == b.algo->targets().size());
  REQUIRE(prox.extra_params().size() == prox.targets().size());
  p.algo->start_epoch(0, 1);
  b.algo->start_epoch(0, 1);
  p.algo->before_forward();
  b.algo->before_forward();
  for (size_t i = 0; i < prox.targets().size(); ++i) {
    auto& t = prox.targets()[i];
    CHECK_MESSAGE(same_bits(prox.pre_binary(i), t.param->value), t.layer());
    CHECK_MESSAGE(same_bits(t.param->used, b.algo->targets()[i].param->used), t.layer());
    CHECK(distinct_values(t.param->used.span()) <= 2 * t.rows);
    CHECK(prox.proxy(i)->lr_scale == doctest::Approx(0.1f));
    CHECK(!prox.proxy(i)->decay);
  }
  Tensor x = random_tensor({3, 1, 28, 28}, 9);
  Context ctx;
  ctx.training = false;
  Tensor lp = p.model->forward(x, ctx), lb = b.model->forward(x, ctx);
  CHECK(same_bits(lp, lb));
}

namespace {

// A linear layer whose weight is W̃ = C·P with C and P as its parameters: no sign, so the chain
// rule of proxy_backward can be checked against finite differences by the generic checker.
class ProxyLinear : public Layer {
 public:
  ProxyLinear(ParamStore& st, int64_t in, int64_t out, int64_t d)
      : Layer("proxy"), inner_(inner_store_, "lin", in, out, false), d_(d) {
    c_ = st.add("proxy", "C", {out, in}, ParamRole::Weight);
    p_ = st.add("proxy", "P", {d, d}, ParamRole::Weight);
    inner_store_.finalize();
  }
  std::string kind() const override { return "proxy_linear"; }
  std::string describe() const override { return "ProxyLinear"; }
  Shape output_shape(const Shape& in) const override { return inner_.output_shape(in); }
  void init(Rng& rng) override {
    for (float& v : c_->value.span()) v = rng.normal() * 0.3f;
    for (float& v : p_->value.span()) v = rng.normal() * 0.3f;
  }
  std::vector<Param*> params() override { return {c_, p_}; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override {
    const int64_t rows = c_->used.size() / d_;
    proxy_combine(c_->used.data(), p_->used.data(), rows, d_, inner_.weight()->value.data());
    inner_.forward(x, y, ctx);
  }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override {
    inner_.backward(x, y, dy, dx);
    proxy_backward(c_->used.data(), p_->used.data(), inner_.weight()->grad.data(),
                   c_->used.size() / d_, d_, c_->grad.data(), p_->grad.data());
  }

 private:
  ParamStore inner_store_;
  Linear inner_;
  int64_t d_;
  Param *c_, *p_;
};

}  // namespace

TEST_CASE("proxybnn: the gradients of C and P match finite differences") {
  ParamStore st;
  ProxyLinear l(st, 12, 5, 4);
  test::GradCheck opt;
  opt.eps = 1e-3;
  opt.rtol = 1e-2;
  opt.atol = 1e-3;
  test::check_gradients(l, st, {3, 12}, 4, opt);
}

TEST_CASE("proxybnn: adjust_gradients applies the STE mask and the chain rule into C and P") {
  Setup s = setup(algo("proxybnn"));
  auto& prox = dynamic_cast<ProxyBnn&>(*s.algo);
  QuantTarget& t = prox.targets()[2];  // fc1: 120 × 400, d = 16
  Param* p = prox.proxy(2);
  const int64_t d = p->shape[0], rows = t.param->value.size() / d;
  REQUIRE(d == 16);
  Rng rng(2);
  for (float& v : p->value.span()) v = rng.normal() * 0.2f;
  t.param->value[0] = 50.0f;  // makes |W̃| > 1 in row 0: those gradients are masked
  s.algo->before_forward();
  const Tensor& wt = prox.pre_binary(2);
  Tensor g = random_tensor(t.param->shape, 3);
  t.param->grad.copy_from(g);
  s.algo->adjust_gradients();
  // Reference in double: dW̃ = g·[|W̃| ≤ 1], dC = dW̃·Pᵀ, dP = Cᵀ·dW̃
  int masked = 0, bad_c = 0, bad_p = 0;
  std::vector<double> dwt(g.size());
  for (int64_t i = 0; i < g.size(); ++i) {
    dwt[i] = std::fabs(wt[i]) <= 1.0f ? g[i] : 0.0;
    masked += std::fabs(wt[i]) > 1.0f;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < d; ++j) {
      double s2 = 0;
      for (int64_t k = 0; k < d; ++k) s2 += dwt[r * d + k] * p->value[j * d + k];
      bad_c += std::fabs(s2 - t.param->grad[r * d + j]) > 1e-4 * (1 + std::fabs(s2));
    }
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      double s2 = 0;
      for (int64_t r = 0; r < rows; ++r)
        s2 += static_cast<double>(t.param->value[r * d + i]) * dwt[r * d + j];
      bad_p += std::fabs(s2 - p->grad[i * d + j]) > 1e-3 * (1 + std::fabs(s2));
    }
  CHECK(masked > 0);
  CHECK(bad_c == 0);
  CHECK(bad_p == 0);
}

// ---------------------------------------------------------------- baselines

TEST_CASE("binaryconnect, bwn and ste fill the used weights with their sets") {
  Setup bc = setup(algo("binaryconnect"));
  bc.algo->start_epoch(0, 1);
  bc.algo->before_forward();
  for (auto& t : bc.algo->targets()) {
    std::set<float> vals(t.param->used.data(), t.param->used.data() + t.param->used.size());
    CHECK(vals == std::set<float>{-1.0f, 1.0f});
  }
  // After a step the shadow weights are clipped to [-1, 1].
  bc.algo->targets()[0].param->value[0] = 3.0f;
  bc.algo->targets()[0].param->value[1] = -2.0f;
  bc.algo->after_step();
  CHECK(bc.algo->targets()[0].param->value[0] == 1.0f);
  CHECK(bc.algo->targets()[0].param->value[1] == -1.0f);

  Setup bw = setup(algo("bwn"));
  bw.algo->before_forward();
  for (auto& t : bw.algo->targets()) {
    CHECK(t.spec.per_channel);
    const int64_t per = t.param->used.size() / t.rows;
    for (int64_t r = 0; r < t.rows; ++r)
      CHECK(distinct_values(std::span<const float>(t.param->used.data() + r * per, per)) <= 2);
  }

  AlgoOptions a = algo("ste");
  a.projection = "ternary-twn";
  Setup st = setup(a);
  st.algo->before_forward();
  for (auto [p, n] : st.algo->quantized_params()) {
    CHECK(n == 3);
    CHECK(distinct_values(p->used.span()) <= 3);
  }
  a = algo("ste");
  a.bits = 4;
  Setup s4 = setup(a);
  CHECK(s4.algo->targets()[0].spec.kind == ProjectionKind::Bits);
  CHECK(s4.algo->targets()[0].max_values() == 15);
}

TEST_CASE("the epoch record carries projection error and flip ratio per quantized layer") {
  Setup s = setup(algo("ste"));
  s.algo->start_epoch(0, 2);
  // Flip the sign of the first 10 weights of conv1: 10 of 150 quantized values change.
  Param* w = s.model->params.find("conv1.weight");
  for (int i = 0; i < 10; ++i) w->value[i] = -w->value[i];
  s.algo->end_epoch(0);
  const json rec = s.algo->epoch_record();
  INFO(rec.dump());
  CHECK(rec["flip_ratio"]["conv1"].get<double>() == doctest::Approx(10.0 / 150));
  CHECK(rec["flip_ratio"]["conv2"].get<double>() == 0.0);
  for (auto& [layer, e] : rec["proj_error"].items()) {
    CHECK(e.get<double>() > 0.3);
    CHECK(e.get<double>() < 1.0);
  }
}

// ---------------------------------------------------------------- config schema

TEST_CASE("config: every algorithm option has a flag, help and a default; checks across keys") {
  int n = 0;
  for (auto& o : config_options()) {
    if (o.key.rfind("algo.", 0) != 0) continue;
    ++n;
    CHECK_MESSAGE(!o.flag.empty(), o.key);
    CHECK_MESSAGE(!o.help.empty(), o.key);
    // null: a default that follows the run's length (test_config checks them)
    const bool automatic = o.key == "algo.lambda_growth" || o.key == "algo.phase2_epoch" ||
                           o.key == "algo.relax_growth" || o.key == "algo.relax_until";
    CHECK_MESSAGE(o.def.is_null() == automatic, o.key);
  }
  CHECK(n >= 30);
  const json d = default_config();
  CHECK(d["algo"]["rho"].get<double>() == 1e-5);
  CHECK(d["algo"]["lambda0"].get<double>() == 1.0);
  CHECK(d["algo"]["epochs_per_layer"] == 0);
  CHECK(d["algo"]["alpha_rate"].get<double>() == 0.01);

  auto with = [&](std::initializer_list<std::pair<const char*, json>> kv) {
    json c = default_config();
    for (auto& [k, v] : kv) set_value(c, k, v, "test");
    return c;
  };
  auto error = [&](const json& c) {
    try {
      validate_config(c);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error(with({{"algo.name", "binaryrelax"}})) == "no error");
  CHECK(error(with({{"algo.name", "binaryrelax"}, {"algo.phase2_epoch", 10}}))
            .find("--phase2-epoch 10") != std::string::npos);
  CHECK(error(with({{"algo.name", "binaryrelax"}, {"algo.phase2_epoch", 7}})) == "no error");
  CHECK(error(with({{"algo.name", "iterative"}})) == "no error");
  CHECK(error(with({{"algo.name", "iterative"}, {"algo.epochs_per_layer", 5}}))
            .find("--epochs-per-layer") != std::string::npos);
  CHECK(error(with({{"algo.name", "iterative"}, {"algo.epochs_per_layer", 2}})) == "no error");
  CHECK(error(with({{"algo.name", "iterative"},
                    {"algo.epochs_per_layer", 2},
                    {"algo.order", "fc1,conv1"}}))
            .find("missing") != std::string::npos);
  CHECK(error(with({{"algo.name", "ste"}, {"algo.layers", json::array({"conv9"})}}))
            .find("conv1, conv2") != std::string::npos);
  CHECK(error(with({{"algo.name", "bwn"}, {"algo.projection", "ternary"}})).find("--algo ste") !=
        std::string::npos);
  CHECK(error(with({{"algo.name", "ste"}, {"algo.projection", "ternary"}, {"algo.bits", 4}})) !=
        "no error");
  CHECK(error(with({{"algo.name", "ste"}, {"algo.act", "quant"}, {"algo.act_bits", 3}}))
            .find("--alpha-init") != std::string::npos);
  CHECK(error(with({{"algo.name", "ste"}, {"algo.alpha_constant_lr", true}})).find("--act quant") !=
        std::string::npos);
  CHECK(error(with({{"algo.name", "bcgd"}, {"algo.relax", true}})) == "no error");
  CHECK(error(with({{"algo.name", "bcgd"}, {"algo.relax", true}, {"algo.relax_until", 10}}))
            .find("--relax-until") != std::string::npos);
  CHECK(error(with({{"algo.name", "float"}, {"algo.layers", json::array({"conv1"})}})) !=
        "no error");
  const TrainConfig t =
      to_train_config(with({{"algo.name", "bcgd"}, {"algo.rho", 0.001}, {"algo.act_bits", 2}}));
  CHECK(t.algo.name == "bcgd");
  CHECK(t.algo.rho == 0.001);
  CHECK(t.algo.act_bits == 2);
}
