// qtrain's arithmetic against PyTorch's: tests/data/torch_reference.bin (written by
// tools/torch_reference, which says what it holds) gives three small networks' initial weights,
// an input batch, and what PyTorch computed from them: the logits, the softmax cross-entropy
// loss, every parameter's gradient, and the parameters and BatchNorm running statistics after
// three SGD-momentum steps. Here the same networks are built from qtrain's layers, loaded by name
// and shape, trained the same three steps, and every value is compared.
//
// How close: the reference is computed in float64 and rounded once, so the difference is
// qtrain's float32 rounding alone. An error is measured against the largest magnitude of its
// tensor, |got − want| ≤ tol·max|want|: entries near zero come out of sums with cancellation,
// where a relative error per entry means nothing. float32 gives errors of at most 3e-7 here on
// logits and losses, 7e-7 on gradients (BatchNorm's backward subtracts nearly equal sums) and 4e-7
// on the parameters after the steps, on both kernel paths; the tolerances leave 25–40 times that
// for other CPUs and BLAS kernels, and stay far below what a wrong formula gives: a gradient term
// dropped or scaled, a transposed weight or a momentum step missed changes the compared values
// by 1e-3 of their scale or more.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/layers/batch_norm.h"
#include "engine/layers/channel_pad_shortcut.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/cross_entropy.h"
#include "engine/layers/global_avg_pool.h"
#include "engine/layers/linear.h"
#include "engine/layers/relu.h"
#include "engine/layers/residual.h"
#include "engine/models/model.h"
#include "engine/optim/sgd.h"

namespace fs = std::filesystem;

namespace {

using qt::Tensor;

constexpr double kLogitTol = 1e-5;  // logits and losses
constexpr double kGradTol = 2e-5;   // parameter gradients
constexpr double kStepTol = 1e-5;   // parameters and running statistics after the steps

struct Reference {
  nlohmann::json header;
  std::vector<float> data;

  // The network's tensors by name ("logits", "grad/conv1.weight").
  std::map<std::string, Tensor> network(const std::string& name) const {
    std::map<std::string, Tensor> r;
    for (const auto& net : header["networks"]) {
      if (net["name"] != name) continue;
      for (const auto& t : net["tensors"]) {
        Tensor v(t["shape"].get<qt::Shape>());
        const size_t at = t["offset"].get<size_t>();
        REQUIRE_MESSAGE(at + v.size() <= data.size(), "tensor ", t["name"], " past the end");
        std::memcpy(v.data(), data.data() + at, v.size() * sizeof(float));
        r.emplace(t["name"].get<std::string>(), std::move(v));
      }
    }
    REQUIRE_MESSAGE(!r.empty(), "no network '", name, "' in the reference file");
    return r;
  }
};

Reference load_reference() {
  const char* src = std::getenv("QTRAIN_SOURCE_DIR");
  REQUIRE_MESSAGE(src != nullptr, "run through ctest, which sets QTRAIN_SOURCE_DIR");
  const fs::path path = fs::path(src) / "tests/data/torch_reference.bin";
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "cannot read ", path.string(), " (tools/torch_reference writes it)");
  char magic[8];
  uint64_t n = 0;
  f.read(magic, 8);
  f.read(reinterpret_cast<char*>(&n), 8);
  REQUIRE_MESSAGE((f.good() && std::memcmp(magic, "QTREF001", 8) == 0), path.string(),
                  ": not a QTREF001 file");
  std::string text(n, '\0');
  f.read(text.data(), static_cast<std::streamsize>(n));
  Reference r;
  r.header = nlohmann::json::parse(text);
  const std::vector<char> rest((std::istreambuf_iterator<char>(f)), {});
  r.data.resize(rest.size() / sizeof(float));
  std::memcpy(r.data.data(), rest.data(), r.data.size() * sizeof(float));  // little-endian
  return r;
}

// |got − want| ≤ tol·max|want| for every entry; the message names the worst one.
void check_close(const std::string& what, const Tensor& got, const Tensor& want, double tol) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), what, ": shape ", qt::shape_str(got.shape()),
                  ", PyTorch's ", qt::shape_str(want.shape()));
  double scale = 0, worst = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < want.size(); ++i) scale = std::max(scale, std::fabs(double{want[i]}));
  for (int64_t i = 0; i < want.size(); ++i) {
    const double e = std::fabs(double{got[i]} - double{want[i]});
    if (!(e <= worst)) {
      worst = e;
      at = i;
      if (std::isnan(e)) break;  // a NaN is the worst and fails the check
    }
  }
  const double err = scale > 0 ? worst / scale : worst;
  CHECK_MESSAGE(err <= tol, what, ": entry ", at, " is ", got[at], ", PyTorch's ", want[at],
                " (error ", err, " of the tensor's largest magnitude ", scale, ", allowed ", tol,
                ")");
}

Tensor scalars(std::vector<float> v) {
  Tensor t({static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t[static_cast<int64_t>(i)] = v[i];
  return t;
}

// A stem (3×3 conv, BatchNorm, ReLU), one CIFAR ResNet basic block of stride 2 as
// engine/models/resnet.cpp builds it, global average pooling and a linear layer. Option A: the
// zero-padded identity shortcut; B: 1×1 conv + BatchNorm.
std::unique_ptr<qt::Model> resnet_block(char option) {
  using namespace qt;
  auto m = std::make_unique<Model>();
  m->name = std::string("resnet_block_") + char(option + 'a' - 'A');
  m->options.in_channels = 3;
  m->options.height = m->options.width = 16;
  m->net = std::make_unique<Sequential>(m->name);
  Sequential& s = *m->net;
  s.add<Conv2d>(m->params, "conv1", 3, 8, 3, 1, 1, false);
  s.add<BatchNorm>(m->params, "bn1", 8);
  s.add<ReLU>("act1");
  auto body = std::make_unique<Sequential>("layer1.0.body");
  body->add<Conv2d>(m->params, "layer1.0.conv1", 8, 16, 3, 2, 1, false);
  body->add<BatchNorm>(m->params, "layer1.0.bn1", 16);
  body->add<ReLU>("layer1.0.act1");
  body->add<Conv2d>(m->params, "layer1.0.conv2", 16, 16, 3, 1, 1, false);
  body->add<BatchNorm>(m->params, "layer1.0.bn2", 16);
  LayerPtr shortcut;
  if (option == 'A') {
    shortcut = std::make_unique<ChannelPadShortcut>("layer1.0.shortcut", 8, 16, 2);
  } else {
    auto b = std::make_unique<Sequential>("layer1.0.shortcut");
    b->add<Conv2d>(m->params, "layer1.0.shortcut.0", 8, 16, 1, 2, 0, false);
    b->add<BatchNorm>(m->params, "layer1.0.shortcut.1", 16);
    shortcut = std::move(b);
  }
  s.append(std::make_unique<Residual>("layer1.0", std::move(body), std::move(shortcut), false));
  s.add<ReLU>("layer1.0.act2");
  s.add<GlobalAvgPool>("avgpool");
  s.add<Linear>(m->params, "fc", 16, 10);
  m->params.finalize();
  return m;
}

// The reference's name of a model tensor: "param/conv1.weight" → "conv1.weight".
std::string torch_name(const qt::ModelTensor& t) {
  return t.name.substr(t.name.find('/') + 1);
}

// Loads the initial weights, then runs the three steps and compares everything on the way.
void check_network(qt::Model& m, const Reference& ref) {
  const auto want = ref.network(m.name);
  const auto& sgd = ref.header["sgd"];
  // Every parameter and buffer loaded by name and shape, and the reference holds no other.
  size_t loaded = 0;
  for (const qt::ModelTensor& t : m.tensors()) {
    const auto it = want.find("init/" + torch_name(t));
    REQUIRE_MESSAGE(it != want.end(), m.name, ": no ", torch_name(t), " in the reference");
    REQUIRE_MESSAGE(it->second.shape() == t.shape(), m.name, " ", torch_name(t), ": shape ",
                    qt::shape_str(t.shape()), ", PyTorch's ", qt::shape_str(it->second.shape()));
    t.set(it->second);
    ++loaded;
  }
  size_t in_file = 0;
  for (const auto& [name, _] : want) in_file += name.starts_with("init/");
  REQUIRE_MESSAGE(loaded == in_file, m.name, ": qtrain has ", loaded,
                  " parameters and buffers, the reference ", in_file);

  const Tensor& x = want.at("input");
  std::vector<int32_t> labels;
  for (float v : want.at("labels").span()) labels.push_back(static_cast<int32_t>(v));
  qt::Sgd opt(m.params.params(), sgd["momentum"].get<float>(), false,
              sgd["weight_decay"].get<float>(), true);
  std::vector<float> losses;
  Tensor dlogits;
  for (int step = 0; step < sgd["steps"].get<int>(); ++step) {
    m.params.zero_grad();
    const Tensor& logits = m.forward(x, qt::Context{});
    dlogits.resize(logits.shape());
    losses.push_back(qt::softmax_cross_entropy(logits, labels, &dlogits, nullptr));
    m.backward(dlogits);
    if (step == 0) {
      check_close(m.name + " logits", logits, want.at("logits"), kLogitTol);
      check_close(m.name + " loss", scalars({losses[0]}), want.at("loss"), kLogitTol);
      for (qt::Param* p : m.params.params())
        check_close(m.name + " gradient of " + p->name, p->grad, want.at("grad/" + p->name),
                    kGradTol);
    }
    opt.step(sgd["lr"].get<float>());
  }
  check_close(m.name + " losses of the steps", scalars(losses), want.at("losses"), kLogitTol);
  for (const qt::ModelTensor& t : m.tensors())
    check_close(m.name + " " + torch_name(t) + " after the steps", t.evaluated(),
                want.at("final/" + torch_name(t)), kStepTol);
}

}  // namespace

TEST_CASE("LeNet-5 computes what PyTorch computes: logits, loss, gradients, three SGD steps") {
  const Reference ref = load_reference();
  auto m = qt::make_model("lenet5", qt::natural_options("lenet5"));
  check_network(*m, ref);
}

TEST_CASE("a ResNet basic block with BatchNorm computes what PyTorch computes") {
  const Reference ref = load_reference();
  for (char option : {'A', 'B'}) check_network(*resnet_block(option), ref);
}
