// Models: shapes, parameter counts against PyTorch, names, the quantizable list, the activation
// factory, initialisation, and forward/backward through whole networks.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>

#include "engine/core/error.h"
#include "engine/layers/batch_norm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/cross_entropy.h"
#include "engine/layers/hardtanh.h"
#include "engine/layers/linear.h"
#include "engine/layers/residual.h"
#include "engine/models/model.h"

using namespace qt;

namespace {

// Parameter counts of the same networks in PyTorch, from
// `/usr/bin/python3 tools/bench_torch.py --count`.
const std::map<std::string, int64_t> kTorchParams = {
    {"mlp", 266610},      {"mlp-bn", 267410},   {"lenet5", 61706},    {"lenet5-bn", 62158},
    {"vgg5", 4302942},    {"vgg9", 2265438},    {"vgg11", 9231114},   {"resnet20", 269722},
    {"resnet32", 464154}, {"resnet44", 658586}, {"resnet56", 853018}, {"resnet18", 11689512},
};

// Conv and linear layers per model (the count that names the ResNets).
const std::map<std::string, size_t> kWeightedLayers = {
    {"mlp", 3},       {"mlp-bn", 3},    {"lenet5", 5},    {"lenet5-bn", 5},
    {"vgg5", 5},      {"vgg9", 9},      {"vgg11", 9},     {"resnet20", 20},
    {"resnet32", 32}, {"resnet44", 44}, {"resnet56", 56}, {"resnet18", 21},
};

Tensor random_input(const Model& m, int64_t batch, uint64_t seed) {
  Rng rng(seed);
  Tensor x(m.input_shape(batch));
  for (float& v : x.span()) v = rng.normal();
  return x;
}

std::vector<int32_t> random_labels(const Model& m, int64_t batch, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> y(batch);
  for (int32_t& v : y) v = static_cast<int32_t>(rng.below(m.options.classes));
  return y;
}

bool all_finite(const Tensor& t) {
  for (float v : t.span())
    if (!std::isfinite(v)) return false;
  return true;
}

double loss_of(Model& m, const Tensor& x, const std::vector<int32_t>& y) {
  Context ctx;
  return softmax_cross_entropy(m.forward(x, ctx), y, nullptr, nullptr);
}

// The directional derivative of the loss along the gradient, by central differences, against
// |g|²: checks that backward through the whole network (blocks, shortcuts, activations, BatchNorm)
// gives the gradient of what forward computes.
void check_model_gradient(Model& m, int64_t batch) {
  const Tensor x = random_input(m, batch, 3);
  const auto y = random_labels(m, batch, 4);
  Context ctx;
  Tensor dlogits;
  softmax_cross_entropy(m.forward(x, ctx), y, &dlogits, nullptr);
  m.backward(dlogits);
  Tensor& w = m.params.values();
  const Tensor g = m.params.grads();
  const Tensor w0 = w;
  double gg = 0;
  for (float v : g.span()) gg += static_cast<double>(v) * v;
  REQUIRE(gg > 0);
  const double eps = 1e-3 / gg;  // a step along g that changes the loss by about 1e-3
  auto loss_at = [&](double t) {
    for (int64_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(w0[i] + t * g[i]);
    return loss_of(m, x, y);
  };
  const double numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps);
  w.copy_from(w0);
  CHECK_MESSAGE(std::abs(numeric - gg) <= 0.01 * gg,
                m.name << ": directional derivative " << numeric << " vs |g|² " << gg);
}

}  // namespace

TEST_CASE("every model is listed, and an unknown one is refused with the list") {
  std::vector<std::string> names = model_names();
  CHECK(names.size() == kTorchParams.size());
  for (const auto& n : names) CHECK(kTorchParams.count(n) == 1);
  try {
    make_model("resnet21", {});
    FAIL("no error for an unknown model");
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("resnet21") != std::string::npos);
    CHECK(msg.find("vgg11") != std::string::npos);
    CHECK(msg.find("lenet5-bn") != std::string::npos);
  }
}

TEST_CASE(
    "parameter counts equal PyTorch's, names are unique, quantizable lists conv and linear "
    "weights") {
  for (const auto& name : model_names()) {
    CAPTURE(name);
    auto m = make_model(name, natural_options(name));
    CHECK(m->params.count() == kTorchParams.at(name));

    std::set<std::string> layer_names;
    for (Layer* l : m->layers())
      CHECK_MESSAGE(layer_names.insert(l->name()).second, "duplicate layer " << l->name());
    std::set<std::string> param_names;
    for (Param* p : m->params.params()) {
      CHECK(param_names.insert(p->name).second);
      CHECK(layer_names.count(p->layer) == 1);
      CHECK(p->name.rfind(p->layer + ".", 0) == 0);
    }

    // Exactly the conv and linear weights, in the order forward uses them.
    std::vector<Param*> expected;
    for (Layer* l : m->layers())
      if (auto* c = dynamic_cast<Conv2d*>(l))
        expected.push_back(c->weight());
      else if (auto* f = dynamic_cast<Linear*>(l))
        expected.push_back(f->weight());
    const auto q = m->quantizable();
    CHECK(q == expected);
    CHECK(q.size() == kWeightedLayers.at(name));
    for (Param* p : q) CHECK(p->role == ParamRole::Weight);

    const std::string s = m->summary();
    CHECK(s.find(std::to_string(m->params.count()) + " parameters") != std::string::npos);
    for (Layer* l : m->layers()) CHECK(s.find(l->name()) != std::string::npos);
  }
}

TEST_CASE("quantizable order follows forward through residual blocks") {
  ModelOptions o = natural_options("resnet20");
  // std::string(...): a move; GCC 12 warns falsely (-Wrestrict) on assigning a literal.
  o.shortcut = std::string("B");
  auto m = make_model("resnet20", o);
  CHECK(m->params.count() == 272474);  // PyTorch, shortcut B
  const auto q = m->quantizable();
  REQUIRE(q.size() == 22);
  CHECK(q[0]->name == "conv1.weight");
  CHECK(q[1]->name == "layer1.0.conv1.weight");
  CHECK(q[7]->name == "layer2.0.conv1.weight");
  CHECK(q[8]->name == "layer2.0.conv2.weight");
  CHECK(q[9]->name == "layer2.0.shortcut.0.weight");
  CHECK(q[21]->name == "fc.weight");

  auto r18 = make_model("resnet18", natural_options("resnet18"));
  CHECK(r18->find_layer("layer2.0.downsample.0") != nullptr);
  CHECK(r18->params.find("layer4.1.bn2.weight") != nullptr);
  CHECK(r18->quantizable().back()->name == "fc.weight");
}

TEST_CASE("models adapt to the input size and channels, with the same counts as PyTorch") {
  ModelOptions o;
  o.in_channels = 3;
  o.height = o.width = 32;
  CHECK(make_model("lenet5", o)->params.count() == 83126);
  CHECK(make_model("mlp", o)->params.count() == 266610 + (3072 - 784) * 300);
  o.classes = 10;
  CHECK(make_model("resnet18", o)->params.count() == 11181642);
  ModelOptions f;  // 1×28×28
  CHECK(make_model("vgg9", f)->params.count() == 1805534);
  auto r = make_model("resnet20", f);
  Context ctx;
  CHECK(r->forward(random_input(*r, 2, 1), ctx).shape() == Shape{2, 10});

  // Five 2×2 poolings do not fit 28×28: a usage error naming the model, not a crash.
  try {
    make_model("vgg11", f);
    FAIL("vgg11 accepted 28×28 images");
  } catch (const UsageError& e) {
    CHECK(std::string(e.what()).find("vgg11") != std::string::npos);
  }
  ModelOptions bad;
  bad.classes = 1;
  CHECK_THROWS_AS(make_model("mlp", bad), UsageError);
  bad = {};
  bad.activation = "gelu";
  CHECK_THROWS_AS(make_model("mlp", bad), UsageError);
  bad = natural_options("resnet20");
  bad.shortcut = std::string("C");
  CHECK_THROWS_AS(make_model("resnet20", bad), UsageError);

  auto m = make_model("mlp", {});
  CHECK_THROWS_AS(m->forward(Tensor({2, 3, 32, 32}), ctx), UsageError);
}

TEST_CASE("the logit BatchNorm: on request, and always in vgg5 and vgg9") {
  ModelOptions o;
  o.logit_bn = true;
  auto m = make_model("mlp", o);
  CHECK(m->params.count() == 266610 + 20);
  CHECK(dynamic_cast<BatchNorm*>(m->net->at(m->net->size() - 1)) != nullptr);
  for (const char* name : {"vgg5", "vgg9"}) {
    auto v = make_model(name, natural_options(name));
    CHECK(v->find_layer("logit_bn") != nullptr);
  }
  CHECK(make_model("vgg11", natural_options("vgg11"))->find_layer("logit_bn") == nullptr);
}

TEST_CASE("every activation site comes from the factory, the residual additions' included") {
  for (const std::string name : {"resnet20", "resnet18", "vgg9", "lenet5-bn"}) {
    CAPTURE(name);
    auto plain = make_model(name, natural_options(name));
    std::vector<std::string> relus;
    for (Layer* l : plain->layers())
      if (l->kind() == "relu") relus.push_back(l->name());
    CHECK(!relus.empty());

    ModelOptions o = natural_options(name);
    std::vector<std::string> sites;
    o.make_activation = [&](ParamStore&, const std::string& n) -> LayerPtr {
      sites.push_back(n);
      return std::make_unique<Hardtanh>(n, 0.0f, 6.0f);
    };
    auto swapped = make_model(name, o);
    CHECK(sites == relus);
    for (Layer* l : swapped->layers()) {
      CHECK(l->kind() != "relu");
      if (auto* r = dynamic_cast<Residual*>(l)) CHECK(!r->relu_after());
    }
    CHECK(swapped->params.count() == plain->params.count());
  }
  ModelOptions h;
  h.activation = "hardtanh";
  auto m = make_model("lenet5", h);
  int hard = 0;
  for (Layer* l : m->layers()) hard += l->kind() == "hardtanh";
  CHECK(hard == 4);
  CHECK(m->find_layer("act4") != nullptr);

  // A factory that misnames its layer would break the names users refer to.
  ModelOptions wrong;
  wrong.make_activation = [](ParamStore&, const std::string&) -> LayerPtr {
    return std::make_unique<Hardtanh>("x");
  };
  CHECK_THROWS(make_model("mlp", wrong));
}

TEST_CASE("initialisation is PyTorch's default and a function of the seed") {
  auto m = make_model("resnet20", natural_options("resnet20"));
  m->init(7);
  const Tensor a = m->params.values();
  m->init(7);
  const Tensor b = m->params.values();
  m->init(8);
  const Tensor c = m->params.values();
  CHECK(std::equal(a.span().begin(), a.span().end(), b.span().begin()));
  CHECK(!std::equal(a.span().begin(), a.span().end(), c.span().begin()));
  for (Param* p : m->params.params()) {
    CAPTURE(p->name);
    if (p->role == ParamRole::Norm) {
      const float want = p->name.ends_with(".weight") ? 1.0f : 0.0f;
      for (float v : p->value.span()) CHECK(v == want);
      continue;
    }
    // U(±1/√fan_in): the extremes come close to the bound and never pass it.
    const int64_t fan_in = m->params.find(p->layer + ".weight")->value.size() /
                           m->params.find(p->layer + ".weight")->shape[0];
    const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
    float lo = 0, hi = 0;
    for (float v : p->value.span()) lo = std::min(lo, v), hi = std::max(hi, v);
    CHECK(hi <= bound);
    CHECK(lo >= -bound);
    if (p->value.size() >= 400) CHECK(hi - lo > 1.9f * bound);
  }
}

TEST_CASE("forward and backward run through every model on small batches") {
  for (const auto& name : model_names()) {
    CAPTURE(name);
    auto m = make_model(name, natural_options(name));
    const int64_t batch = 2;
    const Tensor x = random_input(*m, batch, 5);
    const auto y = random_labels(*m, batch, 6);
    Context ctx;
    Tensor& logits = m->forward(x, ctx);
    CHECK(logits.shape() == Shape{batch, m->options.classes});
    CHECK(all_finite(logits));
    Tensor dlogits;
    const float loss = softmax_cross_entropy(logits, y, &dlogits, nullptr);
    CHECK(std::isfinite(loss));
    m->params.grads().fill(NAN);  // every gradient must be written by backward
    m->backward(dlogits);
    for (Param* p : m->params.params()) {
      CAPTURE(p->name);
      CHECK(all_finite(p->grad));
      double s = 0;
      for (float v : p->grad.span()) s += std::abs(v);
      CHECK(s > 0);
    }
    ctx.training = false;
    CHECK(m->forward(x, ctx).shape() == Shape{batch, m->options.classes});
  }
}

TEST_CASE("backward is the gradient of forward through whole networks") {
  for (const std::string name : {"mlp-bn", "lenet5", "resnet20"}) {
    auto m = make_model(name, natural_options(name));
    check_model_gradient(*m, 4);
  }
  ModelOptions o = natural_options("resnet20");
  o.shortcut = std::string("B");
  o.logit_bn = true;
  auto m = make_model("resnet20", o);
  check_model_gradient(*m, 4);
}

TEST_CASE("a few SGD steps on one batch lower the loss") {
  for (const std::string name : {"mlp", "lenet5-bn", "resnet20"}) {
    CAPTURE(name);
    ModelOptions o = natural_options(name);
    if (name == "resnet20") o.height = o.width = 16;  // the same network, 4× less work
    auto m = make_model(name, o);
    const Tensor x = random_input(*m, 8, 9);
    const auto y = random_labels(*m, 8, 10);
    const double first = loss_of(*m, x, y);
    Context ctx;
    Tensor dlogits;
    for (int step = 0; step < 12; ++step) {
      softmax_cross_entropy(m->forward(x, ctx), y, &dlogits, nullptr);
      m->backward(dlogits);
      Tensor& w = m->params.values();
      const Tensor& g = m->params.grads();
      for (int64_t i = 0; i < w.size(); ++i) w[i] -= 0.05f * g[i];
    }
    CHECK(loss_of(*m, x, y) < 0.5 * first);
  }
}
