// Finite-difference gradient checks for every layer (one line each), thread-count independence,
// and the layers' own semantics (BatchNorm's running statistics, dropout's mask, cross-entropy's
// values).
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/kernels/conv_direct.h"
#include "engine/layers/avg_pool2d.h"
#include "engine/layers/batch_norm.h"
#include "engine/layers/channel_pad_shortcut.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/cross_entropy.h"
#include "engine/layers/dropout.h"
#include "engine/layers/flatten.h"
#include "engine/layers/global_avg_pool.h"
#include "engine/layers/hardtanh.h"
#include "engine/layers/linear.h"
#include "engine/layers/max_pool2d.h"
#include "engine/layers/relu.h"
#include "engine/layers/residual.h"
#include "engine/layers/sequential.h"
#include "gradcheck.h"

using namespace qt;

namespace {

// A layer tree seen as one layer whose params() are those of every layer in it, so that the
// gradient checker also covers the parameters inside composite layers.
class Whole : public Layer {
 public:
  explicit Whole(Layer& inner) : Layer(inner.name()), inner_(inner) {}
  std::string kind() const override { return inner_.kind(); }
  std::string describe() const override { return inner_.describe(); }
  Shape output_shape(const Shape& in) const override { return inner_.output_shape(in); }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override {
    inner_.forward(x, y, ctx);
  }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override {
    inner_.backward(x, y, dy, dx);
  }
  void init(Rng& rng) override { inner_.init(rng); }
  std::vector<Param*> params() override {
    std::vector<Layer*> all;
    collect_layers(&inner_, all);
    std::vector<Param*> r;
    for (Layer* l : all)
      for (Param* p : l->params()) r.push_back(p);
    return r;
  }

 private:
  Layer& inner_;
};

// softmax_cross_entropy as a layer with a (1)-shaped output, for the gradient checker.
class CrossEntropyLayer : public Layer {
 public:
  explicit CrossEntropyLayer(std::vector<int32_t> labels)
      : Layer("ce"), labels_(std::move(labels)) {}
  std::string kind() const override { return "ce"; }
  std::string describe() const override { return "softmax_cross_entropy"; }
  Shape output_shape(const Shape&) const override { return {1}; }
  void forward(const Tensor& x, Tensor& y, const Context&) override {
    y.resize({1});
    y[0] = softmax_cross_entropy(x, labels_, nullptr, nullptr);
  }
  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) override {
    softmax_cross_entropy(x, labels_, dx, nullptr);
    for (float& v : dx->span()) v *= dy[0];
  }

 private:
  std::vector<int32_t> labels_;
};

void fill_normal(Tensor& t, Rng& rng, float scale = 1.0f) {
  for (float& v : t.span()) v = rng.normal() * scale;
}

// Gives a BatchNorm non-trivial γ, β and running statistics; β = shift + small noise.
void randomize_bn(BatchNorm& bn, Rng& rng, float gamma = 1.0f, std::vector<float> shift = {}) {
  for (int64_t c = 0; c < bn.channels(); ++c) {
    bn.weight()->value[c] = gamma * (0.75f + 0.5f * rng.uniform());
    bn.bias()->value[c] = (shift.empty() ? 0.0f : shift[c % shift.size()]) + 0.3f * rng.normal();
    bn.running_mean()->value[c] = 0.5f * rng.normal();
    bn.running_var()->value[c] = 0.5f + 1.5f * rng.uniform();
  }
}

constexpr ConvAlgo kAlgos[] = {ConvAlgo::Im2col, ConvAlgo::Direct, ConvAlgo::Winograd};

const char* algo_name(ConvAlgo a) {
  switch (a) {
    case ConvAlgo::Auto:
      return "auto";
    case ConvAlgo::Im2col:
      return "im2col";
    case ConvAlgo::Direct:
      return "direct";
    case ConvAlgo::Winograd:
      return "winograd";
  }
  return "?";
}

// Every algorithm that applies to the shape (a forced one falls back to im2col where it does not).
void check_conv(int64_t cin, int64_t cout, int64_t k, int64_t s, int64_t p, bool bias,
                const Shape& in) {
  for (ConvAlgo a : kAlgos) {
    ParamStore st;
    Conv2d conv(st, "conv", cin, cout, k, s, p, bias);
    conv.set_algorithm(a);
    if (conv.algorithm_for(in) != a) continue;
    INFO("algorithm ", std::string(algo_name(a)));
    test::check_gradients(conv, st, in);
  }
}

// The fine step for piecewise-linear layers: a kink is crossed only by inputs closer than it.
test::GradCheck fine() {
  test::GradCheck o;
  o.eps = 1e-4;
  return o;
}

}  // namespace

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

TEST_CASE("conv2d gradients: kernels 1/3/5, strides 1/2, padding 0/1/2, with and without bias") {
  check_conv(3, 4, 3, 1, 1, true, {2, 3, 6, 6});    // one sample per chunk
  check_conv(3, 4, 3, 1, 1, false, {9, 3, 5, 5});   // several samples per chunk, several chunks
  check_conv(2, 3, 3, 2, 1, true, {7, 2, 7, 6});    // stride 2, odd and rectangular input
  check_conv(2, 3, 3, 2, 0, false, {5, 2, 8, 7});   // stride 2, no padding
  check_conv(4, 5, 1, 1, 0, true, {6, 4, 5, 3});    // pointwise: no im2col
  check_conv(4, 5, 1, 2, 0, false, {6, 4, 6, 5});   // 1×1 stride 2 (ResNet-18 downsample)
  check_conv(2, 3, 5, 1, 2, true, {5, 2, 7, 7});    // 5×5 "same"
  check_conv(1, 6, 5, 1, 0, true, {11, 1, 9, 9});   // 5×5 valid, LeNet-style, several chunks
  check_conv(3, 2, 5, 2, 1, true, {3, 3, 9, 8});    // 5×5 stride 2 with padding
  check_conv(3, 4, 3, 1, 1, true, {1, 3, 40, 40});  // a big plane: one sample is the whole batch
  check_conv(8, 6, 3, 1, 1, true, {3, 8, 7, 9});    // odd output sizes: partial Winograd tiles
  check_conv(5, 3, 3, 1, 0, false, {4, 5, 8, 6});   // 3×3 without padding
  check_conv(4, 4, 3, 1, 2, true, {2, 4, 5, 5});  // padding 2 = k − 1: the widest direct dx padding
  check_conv(9, 7, 3, 1, 1, false, {3, 9, 2, 2});    // a 2×2 image (VGG's last convolutions)
  check_conv(6, 9, 3, 1, 1, true, {5, 6, 7, 7});     // 49 pixels: a partial last vector
  check_conv(3, 5, 5, 1, 2, false, {4, 3, 12, 10});  // 5×5 "same", three zero columns per side
  // Narrower padding than "same": y and dW by the direct kernel, dx by im2col's GEMM.
  check_conv(3, 4, 5, 1, 0, true, {3, 3, 14, 14});   // LeNet-5's conv2 shape, 5×5 "valid"
  check_conv(4, 5, 3, 1, 0, false, {3, 4, 10, 10});  // 3×3 "valid"
  check_conv(2, 3, 5, 1, 1, true, {3, 2, 12, 12});   // 5×5 with padding 1
  // Stride 2 on even planes: the direct kernel over the input's four phases.
  check_conv(3, 4, 3, 2, 1, true, {3, 3, 8, 6});    // 3×3, a partial last vector (12 pixels)
  check_conv(4, 8, 3, 2, 1, false, {2, 4, 8, 8});   // 16 pixels: dy is its own grid
  check_conv(2, 3, 5, 2, 2, false, {3, 2, 10, 8});  // 5×5: column offsets −1, 0 and 1
  check_conv(4, 5, 1, 2, 0, true, {3, 4, 6, 4});    // 1×1: only phase (0, 0) has taps
  check_conv(3, 2, 3, 2, 1, true, {4, 3, 2, 2});    // a 2×2 image: one output pixel
}

TEST_CASE("batchnorm gradients in training and evaluation, on (N, C) and (N, C, H, W)") {
  for (bool training : {true, false})
    for (Shape in : {Shape{8, 5}, Shape{4, 3, 5, 5}, Shape{3, 2, 1, 7}}) {
      CAPTURE(training);
      CAPTURE(shape_str(in));
      ParamStore st;
      BatchNorm bn(st, "bn", in[1]);
      Rng rng(7);
      st.finalize();
      bn.init(rng);
      randomize_bn(bn, rng);
      test::GradCheck o;
      o.training = training;
      test::check_gradients(bn, st, in, 3, o);
    }
}

TEST_CASE("activation gradients") {
  ParamStore st;
  ReLU relu("relu");
  test::check_gradients(relu, st, {3, 4, 5, 5}, 1, fine());
  Hardtanh ht("ht");
  test::GradCheck o = fine();
  o.input_scale = 2.0f;  // many inputs outside [−1, 1]
  test::check_gradients(ht, st, {3, 50}, 1, o);
  Hardtanh ht2("ht2", -0.5f, 2.0f);
  test::check_gradients(ht2, st, {4, 3, 4, 4}, 2, o);
}

TEST_CASE("a BatchNorm then a ReLU run fused in a Sequential, bit for bit as the two layers") {
  for (bool training : {true, false}) {
    CAPTURE(training);
    ParamStore st, st2;
    Sequential seq("seq");
    auto* bn = seq.add<BatchNorm>(st, "bn", 3);
    seq.add<ReLU>("relu");
    BatchNorm bn2(st2, "bn", 3);
    ReLU relu2("relu");
    st.finalize();
    st2.finalize();
    Rng rng(5);
    seq.init(rng);
    randomize_bn(*bn, rng);
    bn2.init(rng);
    bn2.weight()->value.copy_from(bn->weight()->value);
    bn2.bias()->value.copy_from(bn->bias()->value);
    bn2.running_mean()->value.copy_from(bn->running_mean()->value);
    bn2.running_var()->value.copy_from(bn->running_var()->value);
    Tensor x({4, 3, 5, 7}), dy({4, 3, 5, 7});  // 35-pixel planes: vector blocks and a tail
    fill_normal(x, rng);
    fill_normal(dy, rng);
    Context ctx;
    ctx.training = training;
    Tensor y, dx, t, y2, dt, dx2;
    seq.forward(x, y, ctx);
    bn2.forward(x, t, ctx);
    relu2.forward(t, y2, ctx);
    REQUIRE(std::memcmp(y.data(), y2.data(), y.size() * sizeof(float)) == 0);
    seq.backward(x, y, dy, &dx);
    relu2.backward(t, y2, dy, &dt);
    bn2.backward(x, t, dt, &dx2);
    CHECK(std::memcmp(dx.data(), dx2.data(), dx.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(bn->weight()->grad.data(), bn2.weight()->grad.data(), 3 * sizeof(float)) ==
          0);
    CHECK(std::memcmp(bn->bias()->grad.data(), bn2.bias()->grad.data(), 3 * sizeof(float)) == 0);
    CHECK(std::memcmp(bn->running_var()->value.data(), bn2.running_var()->value.data(),
                      3 * sizeof(float)) == 0);
  }
}

TEST_CASE("pooling gradients, overlapping and padded windows") {
  ParamStore st;
  MaxPool2d mp1("mp", 2);
  test::check_gradients(mp1, st, {2, 3, 6, 6}, 1, fine());
  MaxPool2d mp2("mp", 3, 2, 1);
  test::check_gradients(mp2, st, {2, 3, 7, 8}, 2, fine());
  MaxPool2d mp3("mp", 3, 1);
  test::check_gradients(mp3, st, {2, 2, 6, 5}, 3, fine());
  AvgPool2d ap1("ap", 2);
  test::check_gradients(ap1, st, {2, 3, 6, 6});
  AvgPool2d ap2("ap", 3, 2, 1);
  test::check_gradients(ap2, st, {2, 3, 7, 8});
  AvgPool2d ap3("ap", 3, 1);
  test::check_gradients(ap3, st, {2, 2, 6, 5});
  GlobalAvgPool gap("gap");
  test::check_gradients(gap, st, {3, 4, 5, 3});
}

TEST_CASE("dropout, flatten, channel-pad gradients") {
  ParamStore st;
  Dropout d("drop", 0.3f);
  test::check_gradients(d, st, {4, 30});  // the same key each call: a fixed mask
  test::GradCheck eval;
  eval.training = false;
  test::check_gradients(d, st, {4, 30}, 2, eval);
  Flatten f("flat");
  test::check_gradients(f, st, {3, 2, 3, 4});
  ChannelPadShortcut pad("pad", 3, 8, 2);
  test::check_gradients(pad, st, {2, 3, 5, 6});
  ChannelPadShortcut pad1("pad", 4, 4, 1);
  test::check_gradients(pad1, st, {2, 4, 3, 3});
}

// A ResNet basic block body: conv-bn-relu-conv-bn. check_block gives its BatchNorms small γ and
// shifts of ±2 so that the ReLUs' inputs stay far from their kink (a finite difference across a
// kink is meaningless), with channels of both signs so that the ReLU masks still cut gradients;
// small values also keep float rounding in the loss below the finite-difference tolerance.
static LayerPtr block_body(ParamStore& st, int64_t cin, int64_t cout, int64_t stride) {
  auto body = std::make_unique<Sequential>("body");
  body->add<Conv2d>(st, "c1", cin, cout, 3, stride, 1, false);
  body->add<BatchNorm>(st, "b1", cout);
  body->add<ReLU>("r1");
  body->add<Conv2d>(st, "c2", cout, cout, 3, 1, 1, false);
  body->add<BatchNorm>(st, "b2", cout);
  return body;
}

static void check_block(Residual& block, ParamStore& st, const Shape& in) {
  Rng rng(11);
  st.finalize();
  block.init(rng);
  std::vector<Layer*> all;
  collect_layers(&block, all);
  for (Layer* l : all)
    if (auto* bn = dynamic_cast<BatchNorm*>(l)) randomize_bn(*bn, rng, 0.25f, {2.0f, -2.0f});
  Whole whole(block);
  test::GradCheck o;
  o.eps = 3e-3;
  o.input_scale = 0.25f;
  test::check_gradients(whole, st, in, 5, o);
}

TEST_CASE("residual gradients: identity, channel-pad and conv shortcuts") {
  {
    ParamStore st;
    Residual r("res", block_body(st, 3, 3, 1), nullptr);
    check_block(r, st, {3, 3, 6, 6});
  }
  {
    ParamStore st;
    Residual r("res", block_body(st, 2, 4, 2),
               std::make_unique<ChannelPadShortcut>("pad", 2, 4, 2));
    check_block(r, st, {3, 2, 6, 7});
  }
  {
    ParamStore st;
    auto sc = std::make_unique<Sequential>("down");
    sc->add<Conv2d>(st, "c", 2, 4, 1, 2, 0, false);
    sc->add<BatchNorm>(st, "b", 4);
    Residual r("res", block_body(st, 2, 4, 2), std::move(sc));
    check_block(r, st, {3, 2, 6, 6});
  }
  {
    ParamStore st;
    Residual r("res", block_body(st, 3, 3, 1), nullptr, false);
    check_block(r, st, {2, 3, 5, 5});
  }
}

TEST_CASE("cross-entropy gradient") {
  CrossEntropyLayer ce({2, 0, 4, 4, 1, 3});
  ParamStore st;
  test::GradCheck o;
  o.input_scale = 3.0f;
  test::check_gradients(ce, st, {6, 5}, 1, o);
}

TEST_CASE("cross-entropy values") {
  Tensor z({3, 4});
  std::vector<int32_t> y = {0, 1, 3};
  int64_t correct = -1;
  Tensor d;
  CHECK(softmax_cross_entropy(z, y, &d, &correct) == doctest::Approx(std::log(4.0)));
  CHECK(correct == 1);  // all-zero rows: the argmax is the first column, as in PyTorch
  CHECK(d[0] == doctest::Approx((0.25 - 1.0) / 3));
  CHECK(d[1] == doctest::Approx(0.25 / 3));
  // Max-shifted: huge logits stay finite.
  Tensor big({2, 3});
  big[0] = 1000.0f, big[1] = 0.0f, big[2] = -1000.0f;
  big[3] = 50.0f, big[4] = 60.0f, big[5] = 60.0f;
  std::vector<int32_t> yb = {0, 2};
  float l = softmax_cross_entropy(big, yb, nullptr, &correct);
  CHECK(std::isfinite(l));
  CHECK(l == doctest::Approx(std::log(2.0) / 2).epsilon(1e-4));
  CHECK(correct == 1);  // row 1: tie between columns 1 and 2, the first wins
  std::vector<int32_t> bad = {0, 3};
  CHECK_THROWS_AS(softmax_cross_entropy(big, bad, nullptr, nullptr), std::invalid_argument);
  std::vector<int32_t> neg = {-1, 0};
  CHECK_THROWS_AS(softmax_cross_entropy(big, neg, nullptr, nullptr), std::invalid_argument);
  std::vector<int32_t> few = {0};
  CHECK_THROWS_AS(softmax_cross_entropy(big, few, nullptr, nullptr), std::invalid_argument);
}

// Every convolution kernel is checked against the reference convolution in test_kernels.cpp; the
// tests here check Conv2d's choice among them and its gradients through each.

TEST_CASE("a forced convolution algorithm falls back to im2col where it does not apply") {
  ParamStore st;
  Conv2d strided(st, "c", 8, 8, 3, 2, 1);
  Conv2d five(st, "c", 8, 8, 5, 1, 2);
  Conv2d wide_pad(st, "c", 8, 8, 3, 1, 3);
  Conv2d valid(st, "c", 8, 8, 5, 1, 0);  // LeNet-style "valid": dx rows wider than dy's
  for (ConvAlgo a : kAlgos) {
    strided.set_algorithm(a);
    five.set_algorithm(a);
    wide_pad.set_algorithm(a);
    valid.set_algorithm(a);
    // "valid": the direct kernel for y and dW, im2col's GEMM for dx (rows narrower than dy's).
    if (a == ConvAlgo::Direct && direct_conv_available())
      CHECK(valid.algorithm_for({2, 8, 28, 28}) == ConvAlgo::Direct);
    CHECK(strided.algorithm_for({2, 8, 15, 16}) == ConvAlgo::Im2col);  // stride 2 on odd rows
    if (a == ConvAlgo::Direct && direct_conv_available())
      CHECK(strided.algorithm_for({2, 8, 16, 16}) == ConvAlgo::Direct);
    CHECK(five.algorithm_for({2, 8, 16, 16}) != ConvAlgo::Winograd);
    CHECK(wide_pad.algorithm_for({2, 8, 16, 16}) != ConvAlgo::Direct);
  }
}

// Runs forward and backward, returning y, dx and every parameter gradient, concatenated.
static std::vector<float> run_once(Layer& layer, ParamStore& st, const Tensor& x, const Tensor& r,
                                   bool training) {
  Context ctx;
  ctx.training = training;
  ctx.noise_key = 99;
  Tensor y, dx;
  layer.forward(x, y, ctx);
  st.zero_grad();
  layer.backward(x, y, r, &dx);
  std::vector<float> out(y.data(), y.data() + y.size());
  out.insert(out.end(), dx.data(), dx.data() + dx.size());
  out.insert(out.end(), st.grads().data(), st.grads().data() + st.grads().size());
  return out;
}

static void check_thread_independent(Layer& layer, ParamStore& st, const Shape& in,
                                     bool training = true) {
  Rng rng(5);
  st.finalize();
  layer.init(rng);
  Tensor x(in);
  fill_normal(x, rng);
  Tensor r(layer.output_shape(in));
  fill_normal(r, rng);
  set_threads(1);
  std::vector<float> one = run_once(layer, st, x, r, training);
  set_threads(2);
  std::vector<float> two = run_once(layer, st, x, r, training);
  REQUIRE(one.size() == two.size());
  CHECK_MESSAGE(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0,
                layer.describe() << ": results differ between 1 and 2 threads");
}

TEST_CASE("conv, linear, batchnorm and dropout give bit-identical results with 1 and 2 threads") {
  for (ConvAlgo a : kAlgos) {
    INFO("algorithm ", std::string(algo_name(a)));
    ParamStore st;
    Conv2d c(st, "conv", 8, 16, 3, 1, 1);
    c.set_algorithm(a);
    check_thread_independent(c, st, {64, 8, 16, 16});
    ParamStore st2;
    Conv2d c2(st2, "conv", 16, 16, 3, 1, 1);
    c2.set_algorithm(a);
    check_thread_independent(c2, st2, {24, 16, 32, 32});  // several chunks and dW groups
  }
  {
    ParamStore st;
    Conv2d c(st, "conv", 32, 32, 3, 2, 1, false);
    check_thread_independent(c, st, {64, 32, 8, 8});
  }
  {
    ParamStore st;  // ResNet-20's third stage
    Conv2d c(st, "conv", 64, 64, 3, 1, 1, false);
    check_thread_independent(c, st, {40, 64, 8, 8});
  }
  {
    ParamStore st;  // planes too large for a one-pass dW
    Conv2d c(st, "conv", 2, 3, 3, 1, 1);
    check_thread_independent(c, st, {40, 2, 64, 64});
  }
  {
    ParamStore st;
    Conv2d c(st, "conv", 16, 32, 1, 1, 0);
    check_thread_independent(c, st, {32, 16, 8, 8});
  }
  {
    ParamStore st;  // LeNet-5's conv2: direct y and dW, im2col dx
    Conv2d c(st, "conv", 6, 16, 5, 1, 0);
    check_thread_independent(c, st, {48, 6, 14, 14});
  }
  {
    ParamStore st;
    Linear l(st, "fc", 300, 100);
    check_thread_independent(l, st, {128, 300});
  }
  for (bool training : {true, false}) {
    ParamStore st;
    BatchNorm bn(st, "bn", 16);
    check_thread_independent(bn, st, {64, 16, 16, 16}, training);
    ParamStore st2;
    BatchNorm bn2(st2, "bn", 300);
    check_thread_independent(bn2, st2, {128, 300}, training);
  }
  {
    ParamStore st;
    Dropout d("drop", 0.5f);
    check_thread_independent(d, st, {128, 4096});
  }
}

TEST_CASE("batchnorm running statistics follow PyTorch") {
  ParamStore st;
  BatchNorm bn(st, "bn", 2, 1e-5f, 0.1f);
  st.finalize();
  Rng rng(3);
  bn.init(rng);
  Tensor x({4, 2, 3, 1});
  fill_normal(x, rng, 2.0f);
  for (int64_t i = 0; i < x.size(); ++i) x[i] += 1.0f;
  Tensor y;
  bn.forward(x, y, Context{});
  for (int64_t c = 0; c < 2; ++c) {
    double s = 0, q = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t j = 0; j < 3; ++j) s += x[(n * 2 + c) * 3 + j];
    const double mean = s / 12;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t j = 0; j < 3; ++j) q += std::pow(x[(n * 2 + c) * 3 + j] - mean, 2);
    CHECK(bn.running_mean()->value[c] == doctest::Approx(0.1 * mean));
    CHECK(bn.running_var()->value[c] == doctest::Approx(0.9 + 0.1 * q / 11));  // unbiased
    // Normalised with the biased variance: y has mean 0 and (biased) variance 1/(1 + ε/σ²).
    double ys = 0, yq = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t j = 0; j < 3; ++j) {
        ys += y[(n * 2 + c) * 3 + j];
        yq += std::pow(y[(n * 2 + c) * 3 + j], 2);
      }
    CHECK(ys / 12 == doctest::Approx(0.0).epsilon(1e-5).scale(1.0));
    CHECK(yq / 12 == doctest::Approx(1.0 / (1.0 + 1e-5 / (q / 12))).epsilon(1e-5));
  }
  // Evaluation uses the running statistics and leaves them alone.
  Context eval;
  eval.training = false;
  const float rm = bn.running_mean()->value[1], rv = bn.running_var()->value[1];
  bn.forward(x, y, eval);
  CHECK(bn.running_mean()->value[1] == rm);
  CHECK(y[3] == doctest::Approx((x[3] - rm) / std::sqrt(rv + 1e-5)));
  // One value per channel cannot be normalised in training, as in PyTorch.
  Tensor one({1, 2});
  CHECK_THROWS_AS(bn.forward(one, y, Context{}), std::invalid_argument);
  CHECK_NOTHROW(bn.forward(one, y, eval));
}

TEST_CASE("dropout masks: rate, scale, key dependence, evaluation identity") {
  Dropout d("drop", 0.25f);
  Tensor x({1, 40000});
  x.fill(1.0f);
  Tensor y, y2;
  Context ctx;
  ctx.noise_key = 1;
  d.forward(x, y, ctx);
  int64_t kept = 0;
  for (float v : y.span()) {
    CHECK((v == 0.0f || v == doctest::Approx(1.0f / 0.75f)));
    kept += v != 0.0f;
  }
  CHECK(kept / 40000.0 == doctest::Approx(0.75).epsilon(0.02));
  d.forward(x, y2, ctx);
  CHECK(std::memcmp(y.data(), y2.data(), y.size() * sizeof(float)) == 0);
  ctx.noise_key = 2;
  d.forward(x, y2, ctx);
  CHECK(std::memcmp(y.data(), y2.data(), y.size() * sizeof(float)) != 0);
  Dropout other("drop2", 0.25f);  // another layer, the same step key: another mask
  ctx.noise_key = 1;
  other.forward(x, y2, ctx);
  CHECK(std::memcmp(y.data(), y2.data(), y.size() * sizeof(float)) != 0);
  ctx.training = false;
  d.forward(x, y2, ctx);
  for (float v : y2.span()) REQUIRE(v == 1.0f);
  CHECK_THROWS_AS(Dropout("bad", 1.5f), std::invalid_argument);
}

TEST_CASE("maxpool picks the first maximum on ties and pads with −∞") {
  MaxPool2d mp("mp", 2, 2, 1);
  Tensor x({1, 1, 2, 2});
  x.fill(-5.0f);  // every window holds padding: the result must still be −5, not 0
  Tensor y, dx;
  mp.forward(x, y, Context{});
  REQUIRE(y.shape() == Shape{1, 1, 2, 2});
  for (float v : y.span()) CHECK(v == -5.0f);
  MaxPool2d mp2("mp", 2);
  Tensor t({1, 1, 2, 2});
  t.fill(1.0f);
  mp2.forward(t, y, Context{});
  Tensor g({1, 1, 1, 1});
  g[0] = 1.0f;
  mp2.backward(t, y, g, &dx);
  CHECK(dx[0] == 1.0f);
  CHECK(dx[1] + dx[2] + dx[3] == 0.0f);
}

TEST_CASE("maxpool equals brute force over windows, ties, NaN and edges, forward and backward") {
  // k, s, p, H, W: the stem's 3×3/2 with padding, windows wider than their stride, no padding,
  // rows shorter than a vector, and maps where no window is free of the edge
  const int64_t cases[][5] = {{3, 2, 1, 13, 37}, {3, 1, 1, 6, 21}, {2, 1, 0, 5, 18},
                              {3, 3, 0, 9, 40},  {2, 2, 1, 7, 7},  {3, 2, 1, 2, 3},
                              {1, 1, 0, 3, 19}};
  Rng rng(9);
  for (const auto& t : cases) {
    const int64_t k = t[0], s = t[1], p = t[2], h = t[3], w = t[4];
    INFO("k ", k, ", s ", s, ", p ", p, ", ", h, "×", w);
    MaxPool2d mp("mp", k, s, p);
    Tensor x({2, 3, h, w});
    // four values: ties in most windows; a NaN now and then
    for (int64_t i = 0; i < x.size(); ++i)
      x[i] = rng.uniform() < 0.02f ? std::nanf("") : std::floor(4.0f * rng.uniform()) - 2.0f;
    Tensor y, dy, dx;
    mp.forward(x, y, Context{});
    dy.resize(y.shape());
    for (int64_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(i + 1);
    mp.backward(x, y, dy, &dx);
    const int64_t ho = y.dim(2), wo = y.dim(3);
    Tensor want_dx(x.shape());
    want_dx.fill(0.0f);
    bool same = true;
    for (int64_t pl = 0; pl < 6; ++pl)
      for (int64_t i = 0; i < ho; ++i)
        for (int64_t j = 0; j < wo; ++j) {
          // row-major scan: a greater value or a NaN takes the place
          int64_t at = -1;
          float best = -std::numeric_limits<float>::infinity();
          for (int64_t a = i * s - p; a < i * s - p + k; ++a)
            for (int64_t b = j * s - p; b < j * s - p + k; ++b) {
              if (a < 0 || a >= h || b < 0 || b >= w) continue;
              const float v = x[(pl * h + a) * w + b];
              if (at < 0 || v > best || std::isnan(v)) {
                best = v;
                at = (pl * h + a) * w + b;
              }
            }
          const int64_t o = (pl * ho + i) * wo + j;
          same = same && std::memcmp(&y[o], &x[at], sizeof(float)) == 0;
          want_dx[at] += dy[o];
        }
    CHECK_MESSAGE(same, "forward differs from brute force");
    CHECK(std::memcmp(dx.data(), want_dx.data(), dx.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("avgpool counts the padding, as PyTorch's default") {
  AvgPool2d ap("ap", 3, 1, 1);
  Tensor x({1, 1, 3, 3});
  x.fill(9.0f);
  Tensor y;
  ap.forward(x, y, Context{});
  CHECK(y[0] == doctest::Approx(4.0f));  // corner: 4 real values of 9 over 9 cells
  CHECK(y[4] == doctest::Approx(9.0f));
}

TEST_CASE("channel-pad shortcut pads channels evenly and subsamples") {
  ChannelPadShortcut pad("pad", 2, 6, 2);
  Tensor x({1, 2, 3, 3});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i + 1);
  Tensor y;
  pad.forward(x, y, Context{});
  REQUIRE(y.shape() == Shape{1, 6, 2, 2});
  for (int64_t i = 0; i < 8; ++i) CHECK(y[i] == 0.0f);  // channels 0, 1
  CHECK(y[8] == 1.0f);                                  // channel 2 = input channel 0, pixel (0, 0)
  CHECK(y[9] == 3.0f);                                  // pixel (0, 2)
  CHECK(y[10] == 7.0f);
  CHECK(y[11] == 9.0f);
  CHECK(y[12] == 10.0f);                                  // channel 3 = input channel 1
  for (int64_t i = 16; i < 24; ++i) CHECK(y[i] == 0.0f);  // channels 4, 5
}

TEST_CASE("output shapes and shape errors") {
  ParamStore st;
  CHECK(Conv2d(st, "c", 3, 16, 3, 1, 1).output_shape({2, 3, 32, 32}) == Shape{2, 16, 32, 32});
  CHECK(Conv2d(st, "c", 3, 16, 3, 2, 1).output_shape({2, 3, 32, 32}) == Shape{2, 16, 16, 16});
  CHECK(Conv2d(st, "c", 1, 6, 5).output_shape({2, 1, 28, 28}) == Shape{2, 6, 24, 24});
  CHECK(Conv2d(st, "c", 3, 64, 7, 2, 3).output_shape({2, 3, 224, 224}) == Shape{2, 64, 112, 112});
  CHECK_THROWS_AS(Conv2d(st, "c", 3, 16, 3).output_shape({2, 4, 32, 32}), std::invalid_argument);
  CHECK_THROWS_AS(Conv2d(st, "c", 3, 16, 5).output_shape({2, 3, 3, 3}), std::invalid_argument);
  CHECK_THROWS_AS(Conv2d(st, "c", 3, 16, 0), std::invalid_argument);
  CHECK(MaxPool2d("m", 3, 2, 1).output_shape({2, 64, 112, 112}) == Shape{2, 64, 56, 56});
  CHECK(MaxPool2d("m", 2).output_shape({2, 6, 5, 5}) == Shape{2, 6, 2, 2});
  CHECK_THROWS_AS(MaxPool2d("m", 2, 2, 2), std::invalid_argument);
  CHECK(AvgPool2d("a", 2).output_shape({1, 1, 4, 6}) == Shape{1, 1, 2, 3});
  CHECK(GlobalAvgPool("g").output_shape({5, 64, 8, 8}) == Shape{5, 64});
  CHECK(Flatten("f").output_shape({5, 16, 5, 5}) == Shape{5, 400});
  CHECK(ChannelPadShortcut("p", 16, 32, 2).output_shape({5, 16, 32, 32}) == Shape{5, 32, 16, 16});
  CHECK(ChannelPadShortcut("p", 16, 32, 2).output_shape({5, 16, 7, 7}) == Shape{5, 32, 4, 4});
  CHECK(BatchNorm(st, "b", 7).output_shape({3, 7}) == Shape{3, 7});
  CHECK_THROWS_AS(BatchNorm(st, "b", 7).output_shape({3, 8, 2, 2}), std::invalid_argument);
  Residual bad("r", std::make_unique<Conv2d>(st, "c", 3, 4, 3, 1, 1), nullptr);
  CHECK_THROWS_AS(bad.output_shape({1, 3, 8, 8}), std::invalid_argument);
}
