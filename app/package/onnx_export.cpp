#include "app/package/onnx_export.h"

#include <onnx/checker.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>

#include "app/package/onnx_graph.h"
#include "app/run/restored_run.h"
#include "app/version.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/parallel.h"
#include "engine/layers/avg_pool2d.h"
#include "engine/layers/batch_norm.h"
#include "engine/layers/channel_pad_shortcut.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dropout.h"
#include "engine/layers/flatten.h"
#include "engine/layers/global_avg_pool.h"
#include "engine/layers/hardtanh.h"
#include "engine/layers/linear.h"
#include "engine/layers/max_pool2d.h"
#include "engine/layers/relu.h"
#include "engine/layers/residual.h"
#include "engine/layers/sequential.h"
#include "engine/quant/act_quantizer.h"
#include "engine/quant/sign_activation.h"

namespace qt {

using json = nlohmann::json;

namespace {

// The opset of the graph: 13 has per-channel DequantizeLinear and Clip, Slice and Pad with
// their bounds as inputs; every ONNX runtime of the last years reads it. IR version 7 goes
// with it.
constexpr int64_t kOpset = 13, kIrVersion = 7;

// A quantized weight as int8 codes q and scales s (one, or one per output channel) with
// float(q)·s == w exactly: what DequantizeLinear computes, (q − 0)·s.
struct Codes {
  std::vector<int8_t> q;
  std::vector<float> scales;
  bool per_channel = false;
};

// The codes of `w` with one scale per group of `groups` (1, or the output channels): each
// group's smallest nonzero magnitude. False when a value is not an int8 multiple of it.
bool codes_in_groups(const Tensor& w, int64_t groups, Codes& out) {
  const int64_t len = w.size() / groups;
  out.per_channel = groups > 1;
  out.q.resize(static_cast<size_t>(w.size()));
  out.scales.assign(static_cast<size_t>(groups), 1.0f);
  for (int64_t g = 0; g < groups; ++g) {
    float s = 0;
    for (int64_t i = g * len; i < (g + 1) * len; ++i)
      if (w[i] != 0.0f && (s == 0 || std::fabs(w[i]) < s)) s = std::fabs(w[i]);
    if (s == 0) s = 1.0f;  // an all-zero group
    out.scales[g] = s;
    for (int64_t i = g * len; i < (g + 1) * len; ++i) {
      const float q = std::nearbyint(w[i] / s);
      if (!(std::fabs(q) <= 127.0f) || q * s != w[i]) return false;
      out.q[i] = static_cast<int8_t>(q);
    }
  }
  return true;
}

// A scale for the tensor (binary, ternary, b-bit sets with one α), else one per output channel
// (BWN's and ProxyBNN's α per channel).
bool integer_codes(const Tensor& w, Codes& out) {
  return codes_in_groups(w, 1, out) || codes_in_groups(w, w.dim(0), out);
}

class Writer {
 public:
  // Between the algorithm's begin_eval() and end_eval(): the parameters' `used` tensors hold
  // the evaluated network.
  Writer(OnnxGraph& g, Algorithm& algo) : g_(g) {
    for (auto& [p, n] : algo.quantized_params()) quantized_.insert(p);
  }

  int int8_weights = 0, float_weights = 0;

  // The graph's nodes for `layer` reading `x`; returns the name of its output.
  std::string emit(Layer* layer, const std::string& x) {
    const std::string& name = layer->name();
    if (auto* s = dynamic_cast<Sequential*>(layer)) {
      std::string y = x;
      for (Layer* child : s->children()) y = emit(child, y);
      return y;
    }
    if (auto* r = dynamic_cast<Residual*>(layer)) {
      const std::string body = emit(r->body(), x);
      const std::string shortcut = r->shortcut() ? emit(r->shortcut(), x) : x;
      std::string y = out(g_.node("Add", {body, shortcut}, name));
      if (r->relu_after()) y = out(g_.node("Relu", {y}, name + ".relu"));
      return y;
    }
    if (auto* c = dynamic_cast<Conv2d*>(layer)) {
      std::vector<std::string> in = {x, weight(c->weight())};
      if (c->bias()) in.push_back(g_.floats(c->bias()->name, c->bias()->used));
      auto& n = g_.node("Conv", in, name);
      const int64_t k = c->kernel(), s = c->stride(), p = c->padding();
      OnnxGraph::attr(n, "kernel_shape", std::vector<int64_t>{k, k});
      OnnxGraph::attr(n, "strides", std::vector<int64_t>{s, s});
      OnnxGraph::attr(n, "pads", std::vector<int64_t>{p, p, p, p});
      return out(n);
    }
    if (auto* l = dynamic_cast<Linear*>(layer)) {
      // Gemm: y = x·Wᵀ + b, W as qtrain holds it (out × in).
      std::vector<std::string> in = {x, weight(l->weight())};
      if (l->bias()) in.push_back(g_.floats(l->bias()->name, l->bias()->used));
      auto& n = g_.node("Gemm", in, name);
      OnnxGraph::attr(n, "transB", int64_t{1});
      return out(n);
    }
    if (auto* b = dynamic_cast<BatchNorm*>(layer)) {
      // Evaluation's form: γ·(x − running mean)/√(running var + ε) + β, also on N × C inputs.
      auto& n = g_.node("BatchNormalization",
                        {x, g_.floats(b->weight()->name, b->weight()->used),
                         g_.floats(b->bias()->name, b->bias()->used),
                         g_.floats(b->running_mean()->name, b->running_mean()->value),
                         g_.floats(b->running_var()->name, b->running_var()->value)},
                        name);
      OnnxGraph::attr(n, "epsilon", b->eps());
      return out(n);
    }
    if (dynamic_cast<ReLU*>(layer)) return out(g_.node("Relu", {x}, name));
    if (auto* h = dynamic_cast<Hardtanh*>(layer))
      return out(g_.node(
          "Clip", {x, g_.scalar(name + ".min", h->lo()), g_.scalar(name + ".max", h->hi())}, name));
    if (auto* m = dynamic_cast<MaxPool2d*>(layer))
      return out(pool("MaxPool", name, x, m->kernel(), m->stride(), m->padding()));
    if (auto* a = dynamic_cast<AvgPool2d*>(layer)) {
      auto& n = pool("AveragePool", name, x, a->kernel(), a->stride(), a->padding());
      OnnxGraph::attr(n, "count_include_pad", int64_t{1});  // qtrain's counts padding as zeros
      return out(n);
    }
    if (dynamic_cast<GlobalAvgPool*>(layer)) {
      const std::string y = out(g_.node("GlobalAveragePool", {x}, name));
      return flatten(y, name + ".flatten");  // qtrain's gives N × C
    }
    if (dynamic_cast<Flatten*>(layer)) return flatten(x, name);
    if (dynamic_cast<Dropout*>(layer)) return x;  // evaluation: the identity
    if (auto* c = dynamic_cast<ChannelPadShortcut*>(layer)) return channel_pad(*c, x);
    if (dynamic_cast<SignActivation*>(layer)) {
      // sign(x) with sign(0) = +1: Sign gives −1, 0, +1; adding ½ moves 0 to the + side.
      const std::string s = out(g_.node("Sign", {x}, name + ".sign"));
      const std::string h = out(g_.node("Add", {s, g_.scalar(name + ".half", 0.5f)}, name + ".up"));
      return out(g_.node("Sign", {h}, name));
    }
    if (auto* q = dynamic_cast<ActQuantizer*>(layer)) {
      // α·clip(⌈x/α⌉, 0, L), α clamped to [1e-3, 5] as every forward does before using it.
      const float alpha =
          std::clamp(q->alpha_value(), ActQuantizer::kAlphaMin, ActQuantizer::kAlphaMax);
      const std::string a = g_.scalar(q->alpha()->name, alpha);
      const std::string d = out(g_.node("Div", {x, a}, name + ".div"));
      const std::string c = out(g_.node("Ceil", {d}, name + ".ceil"));
      const std::string k =
          out(g_.node("Clip",
                      {c, g_.scalar(name + ".zero", 0.0f),
                       g_.scalar(name + ".levels", static_cast<float>(q->levels()))},
                      name + ".code"));
      return out(g_.node("Mul", {k, a}, name));
    }
    throw DataError("layer '" + name + "' (" + layer->describe() +
                    ") has no ONNX form in this qtrain");
  }

 private:
  static const std::string& out(const onnx::NodeProto& n) { return OnnxGraph::output(n); }

  onnx::NodeProto& pool(const std::string& op, const std::string& name, const std::string& x,
                        int64_t k, int64_t s, int64_t p) {
    auto& n = g_.node(op, {x}, name);
    OnnxGraph::attr(n, "kernel_shape", std::vector<int64_t>{k, k});
    OnnxGraph::attr(n, "strides", std::vector<int64_t>{s, s});
    OnnxGraph::attr(n, "pads", std::vector<int64_t>{p, p, p, p});
    return n;
  }

  std::string flatten(const std::string& x, const std::string& name) {
    auto& n = g_.node("Flatten", {x}, name);
    OnnxGraph::attr(n, "axis", int64_t{1});
    return out(n);
  }

  // y[n, c + (out − in)/2, i, j] = x[n, c, i·s, j·s]: every s-th pixel, then zero channels.
  std::string channel_pad(ChannelPadShortcut& c, const std::string& x) {
    const std::string& name = c.name();
    const int64_t s = c.stride(), lo = (c.out_channels() - c.in_channels()) / 2;
    const int64_t hi = c.out_channels() - c.in_channels() - lo;
    const std::string sliced = out(g_.node(
        "Slice",
        {x, g_.int64s(name + ".starts", {0, 0}), g_.int64s(name + ".ends", {INT64_MAX, INT64_MAX}),
         g_.int64s(name + ".axes", {2, 3}), g_.int64s(name + ".steps", {s, s})},
        name + ".stride"));
    return out(
        g_.node("Pad", {sliced, g_.int64s(name + ".pads", {0, lo, 0, 0, 0, hi, 0, 0})}, name));
  }

  // A conv or linear weight as the network evaluates it: int8 codes and a DequantizeLinear when
  // it is quantized onto integer multiples of its scales, float32 otherwise.
  std::string weight(Param* p) {
    Codes codes;
    if (!quantized_.count(p) || !integer_codes(p->used, codes)) {
      ++float_weights;
      return g_.floats(p->name, p->used);
    }
    ++int8_weights;
    const int64_t groups = static_cast<int64_t>(codes.scales.size());
    const Shape scale_shape = codes.per_channel ? Shape{groups} : Shape{};
    auto& n =
        g_.node("DequantizeLinear",
                {g_.int8s(p->name + ".codes", codes.q, p->used.shape()),
                 g_.floats(p->name + ".scale", codes.scales, scale_shape),
                 g_.int8s(p->name + ".zero_point", std::vector<int8_t>(groups, 0), scale_shape)},
                p->name);
    if (codes.per_channel) OnnxGraph::attr(n, "axis", int64_t{0});
    return out(n);
  }

  OnnxGraph& g_;
  std::set<const Param*> quantized_;
};

void set_value_info(onnx::ValueInfoProto& v, const std::string& name,
                    const std::vector<int64_t>& dims) {
  v.set_name(name);
  auto* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = t->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

}  // namespace

json export_onnx(const std::string& checkpoint, const std::string& out_path) {
  set_threads(0);
  RestoredRun run(checkpoint, "");
  Model& model = run.trainer.model();
  Algorithm& algo = run.trainer.algorithm();
  const ModelOptions& o = model.options;

  onnx::ModelProto m;
  m.set_ir_version(kIrVersion);
  m.add_opset_import()->set_version(kOpset);
  m.set_producer_name("qtrain");
  m.set_producer_version(kQtrainVersion);
  m.set_doc_string(run.cfg.model + " trained with " + run.cfg.algo.name + " on " +
                   run.cfg.data.name + " (" + run.path + ")");
  auto* meta = m.add_metadata_props();
  meta->set_key("qtrain.config");
  meta->set_value(run.ckpt.meta["config"].dump());
  onnx::GraphProto& g = *m.mutable_graph();
  g.set_name(run.cfg.model);
  set_value_info(*g.add_input(), "image", {o.in_channels, o.height, o.width});
  set_value_info(*g.add_output(), "logits", {o.classes});

  algo.begin_eval();
  OnnxGraph b(g);
  Writer w(b, algo);
  // The dataset's normalisation, (x − mean[c]) / std[c], on pixels / 255.
  const Shape per_channel = {o.in_channels, 1, 1};
  const std::string centred = OnnxGraph::output(
      b.node("Sub", {"image", b.floats("normalize.mean", run.data.norm.mean, per_channel)},
             "normalize.centred"));
  const std::string x = OnnxGraph::output(b.node(
      "Div", {centred, b.floats("normalize.std", run.data.norm.std, per_channel)}, "normalize"));
  const std::string y = w.emit(model.net.get(), x);
  algo.end_eval();
  // The node that computes the network's output writes "logits", the graph's output.
  onnx::NodeProto& final = *g.mutable_node(g.node_size() - 1);
  if (final.output(0) == y)
    final.set_output(0, "logits");
  else
    b.node("Identity", {y}, "logits").set_output(0, "logits");

  try {
    onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    throw std::runtime_error(
        "the ONNX model of " + run.path +
        " fails ONNX's own checker (a bug of qtrain's ONNX writer): " + e.what());
  }
  std::string bytes;
  if (!m.SerializeToString(&bytes))
    throw std::runtime_error("cannot serialise the ONNX model of " + run.path);
  write_file_atomic(out_path, bytes);
  return {{"path", out_path},
          {"bytes", bytes.size()},
          {"opset", kOpset},
          {"nodes", g.node_size()},
          {"int8_weights", w.int8_weights},
          {"float_weights", w.float_weights}};
}

}  // namespace qt
