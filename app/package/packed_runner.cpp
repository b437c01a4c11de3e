#include "app/package/packed_runner.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/core/clock.h"
#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/kernels/packed_conv.h"
#include "engine/kernels/packed_expanded.h"
#include "engine/kernels/packed_pool.h"
#include "engine/kernels/packed_signselect.h"
#include "engine/layers/batch_norm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/linear.h"
#include "engine/layers/max_pool2d.h"
#include "engine/layers/residual.h"
#include "engine/layers/sequential.h"
#include "engine/models/model.h"
#include "engine/quant/act_quantizer.h"

namespace qt {

using json = nlohmann::json;

// One step of the plan: a layer run as in float evaluation, a packed conv or linear layer (with
// the BatchNorm folded into it), or a residual block of two sub-plans.
struct PackedRunner::Step {
  enum class Kind { Layer, Packed, Residual } kind = Kind::Layer;
  Layer* layer = nullptr;
  int info = -1;  // index into infos_ for conv and linear layers
  // Packed
  bool linear = false;
  int64_t k = 1, stride = 1, pad = 0;
  PackedWeights w;
  std::vector<float> scale, shift;
  std::string input;  // "binary" | "bits" | "float"
  int bits = 0;
  float alpha = 0.0f;
  std::vector<uint64_t> packed;
  // A packed conv whose BatchNorm-folded output goes through a sign (and max pooling): the kernel
  // writes the signs packed (a conv on float input packs its float output), the pools OR them,
  // and the steps of the sign and the pools are skipped (`fused`). The next conv reads `pooled`
  // (`signs_from`); when the next step is something else, the bits are unpacked to ±1 floats
  // into `out` (`unpack`), and a packed conv reading that tensor later takes the bits as they are.
  // forward_checked runs them unfused, to compare every layer with float on its own input.
  bool signs_out = false, unpack = false, fused = false;
  std::vector<MaxPool2d*> pools;
  std::vector<uint64_t> signs, pooled;
  Shape signs_shape;  // (N, C, H, W) of `signs` after the pools
  Step* signs_from = nullptr;
  // Residual
  std::vector<std::unique_ptr<Step>> body, shortcut;
  bool relu = false;
  BatchNorm* folded_bn = nullptr;
  Tensor out, float_out, float_bn_out;
};

namespace {

using Steps = std::vector<std::unique_ptr<PackedRunner::Step>>;

// The set of the values a layer's output holds, as far as the packed kernels care.
struct ValueSet {
  std::string set = "float";  // "binary" | "bits" | "float"
  int bits = 0;
  float alpha = 0.0f;
};

std::vector<Layer*> as_list(Layer* l) {
  if (l->kind() == "sequential") return l->children();
  return {l};
}

}  // namespace

json to_json(const PackedLayerInfo& l) {
  json j = {{"name", l.name},
            {"kind", l.kind},
            {"weights", l.weights},
            {"input", l.input},
            {"kernel", l.kernel},
            {"weight_bytes", l.weight_bytes},
            {"float_weight_bytes", l.float_weight_bytes}};
  if (l.input == "bits") {
    j["input_bits"] = l.bits;
    j["input_alpha"] = l.alpha;
  }
  if (!l.folded_bn.empty()) j["folded_batchnorm"] = l.folded_bn;
  if (!l.fused.empty()) j["fused_output"] = l.fused;
  if (!l.why.empty()) j["why_not_packed"] = l.why;
  return j;
}

std::set<std::string> quantized_weights(const json& tensors) {
  std::set<std::string> r;
  if (!tensors.is_array()) return r;
  for (const json& e : tensors)
    if (e.is_object() && e.value("encoding", "") == "codebook") {
      std::string name = e.value("name", "");
      if (name.rfind("param/", 0) == 0) name = name.substr(6);
      r.insert(name);
    }
  return r;
}

namespace {

struct Builder {
  const std::set<std::string>& quantized;
  bool strict;
  const std::string& where;
  std::vector<PackedLayerInfo>& infos;
  std::map<std::string, int64_t> packed_bytes;  // by tensor name: as the runner holds them

  // Appends the steps of `layers` taking values of set `in`; returns the set they give.
  ValueSet build(const std::vector<Layer*>& layers, ValueSet in, Steps& out) {
    for (size_t i = 0; i < layers.size(); ++i) {
      Layer* l = layers[i];
      const std::string kind = l->kind();
      auto step = std::make_unique<PackedRunner::Step>();
      step->layer = l;
      if (kind == "sequential") {
        in = build(l->children(), in, out);
        continue;
      }
      if (kind == "residual") {
        auto* r = static_cast<Residual*>(l);
        step->kind = PackedRunner::Step::Kind::Residual;
        step->relu = r->relu_after();
        build(as_list(r->body()), in, step->body);
        if (r->shortcut()) build(as_list(r->shortcut()), in, step->shortcut);
        out.push_back(std::move(step));
        in = ValueSet{};
        continue;
      }
      if (kind == "conv2d" || kind == "linear") {
        BatchNorm* bn = i + 1 < layers.size() && layers[i + 1]->kind() == "batchnorm"
                            ? static_cast<BatchNorm*>(layers[i + 1])
                            : nullptr;
        if (conv_or_linear(l, in, bn, *step) && bn) ++i;
        out.push_back(std::move(step));
        in = ValueSet{};
        continue;
      }
      out.push_back(std::move(step));
      if (auto* q = dynamic_cast<ActQuantizer*>(l)) {
        // α as the quantizer's forward uses it: clamped to [1e-3, 5]
        in.set = "bits";
        in.bits = static_cast<int>(std::lround(std::log2(q->levels() + 1)));
        in.alpha = std::clamp(q->alpha_value(), ActQuantizer::kAlphaMin, ActQuantizer::kAlphaMax);
      } else if (kind == "sign") {
        in = ValueSet{"binary"};
      } else if (kind != "maxpool2d" && kind != "flatten" && kind != "dropout") {
        in = ValueSet{};  // max pooling, flattening and dropout at evaluation keep the set
      }
    }
    return in;
  }

  // Fills a conv or linear step; true when it runs packed (and folds `bn` when not null).
  bool conv_or_linear(Layer* l, const ValueSet& in, BatchNorm* bn, PackedRunner::Step& s) {
    PackedLayerInfo info;
    info.name = l->name();
    info.kind = l->kind();
    info.input = in.set;
    info.bits = in.bits;
    info.alpha = in.alpha;
    Param* weight = nullptr;
    Param* bias = nullptr;
    int64_t cout = 0, cin = 0;
    if (auto* c = dynamic_cast<Conv2d*>(l)) {
      weight = c->weight();
      bias = c->bias();
      cout = c->out_channels();
      cin = c->in_channels();
      s.k = c->kernel();
      s.stride = c->stride();
      s.pad = c->padding();
    } else {
      auto* f = static_cast<Linear*>(l);
      weight = f->weight();
      bias = f->bias();
      cout = f->out_features();
      cin = f->in_features();
      s.linear = true;
    }
    info.float_weight_bytes = 4 * weight->used.size();
    s.info = static_cast<int>(infos.size());
    auto record = [&](bool packed) {
      infos.push_back(info);
      return packed;
    };
    if (!quantized.count(weight->name)) {
      info.weights = "float";
      info.kernel = "float";
      info.weight_bytes = info.float_weight_bytes;
      return record(false);
    }
    std::string why;
    if (!pack_weights(weight->used.data(), cout, cin, s.k, s.w, why)) {
      info.weights = "quantized, not binary or ternary";
      info.kernel = "float";
      info.why = why + "; the packed engine runs binary and ternary weights only";
      info.weight_bytes = info.float_weight_bytes;
      if (strict)
        throw DataError(where + ": layer '" + info.name + "' cannot run packed: " + info.why);
      return record(false);
    }
    info.weights = s.w.ternary ? "ternary" : "binary";
    // A float input: the sign-selected additions for a linear layer (one pass over the weights,
    // as fast as the float GEMM at batch 1), the float kernels over the expanded signs for a
    // conv (whose additions run on rows as short as the image's width).
    info.kernel = in.set == "binary" ? "xnor"
                  : in.set == "bits" ? "bitserial"
                  : s.linear         ? "signselect"
                                     : "expanded";
    info.weight_bytes = s.w.bytes();
    // the bit planes and β, then one scale and shift per channel (the bias and a BatchNorm
    // folded into them)
    packed_bytes["param/" + weight->name] = s.w.bytes() + 8 * cout;
    if (bias) packed_bytes["param/" + bias->name] = 0;
    s.kind = PackedRunner::Step::Kind::Packed;
    s.input = in.set;
    s.bits = in.bits;
    s.alpha = in.alpha;
    // y = c_o·s + b_o with c_o = β_o (·α for a b-bit input); a BatchNorm after it, at
    // evaluation x·a + b with a = γ/√(σ² + ε), b = β − μ·a (as BatchNorm computes them), gives
    // scale = c_o·a and shift = b_o·a + b.
    s.scale.resize(static_cast<size_t>(cout));
    s.shift.resize(static_cast<size_t>(cout));
    for (int64_t o = 0; o < cout; ++o) {
      const float c = s.w.beta[static_cast<size_t>(o)] * (in.set == "bits" ? in.alpha : 1.0f);
      const float b = bias ? bias->used[o] : 0.0f;
      float a = 1.0f, shift = 0.0f;
      if (bn) {
        const float inv = static_cast<float>(
            1.0 / std::sqrt(static_cast<double>(bn->running_var()->value[o]) + bn->eps()));
        a = bn->weight()->used[o] * inv;
        shift = bn->bias()->used[o] - bn->running_mean()->value[o] * a;
      }
      s.scale[static_cast<size_t>(o)] = bn ? c * a : c;
      s.shift[static_cast<size_t>(o)] = bn ? b * a + shift : b;
    }
    if (bn) {
      s.folded_bn = bn;
      info.folded_bn = bn->name();
      for (const char* t :
           {"param/%.weight", "param/%.bias", "buffer/%.running_mean", "buffer/%.running_var"}) {
        std::string name = t;
        packed_bytes[name.replace(name.find('%'), 1, bn->name())] = 0;
      }
    }
    return record(true);
  }
};

}  // namespace

namespace {

// Marks the chains packed conv → sign → max pools of `steps` (and of residual bodies and
// shortcuts) for the fused run (see Step::signs_out): into the next packed conv when it reads
// binary input, else unpacked to ±1 for whatever comes next (a residual block's shortcut).
void fuse_signs(Steps& steps, std::vector<PackedLayerInfo>& infos) {
  using Kind = PackedRunner::Step::Kind;
  for (size_t i = 0; i < steps.size(); ++i) {
    PackedRunner::Step& s = *steps[i];
    if (s.kind == Kind::Residual) {
      fuse_signs(s.body, infos);
      fuse_signs(s.shortcut, infos);
      continue;
    }
    if (s.kind != Kind::Packed || s.linear || i + 1 >= steps.size() ||
        steps[i + 1]->kind != Kind::Layer || steps[i + 1]->layer->kind() != "sign")
      continue;
    size_t j = i + 2;
    std::vector<MaxPool2d*> pools;
    for (; j < steps.size() && steps[j]->kind == Kind::Layer &&
           steps[j]->layer->kind() == "maxpool2d";
         ++j)
      pools.push_back(static_cast<MaxPool2d*>(steps[j]->layer));
    const bool into_conv = j < steps.size() && steps[j]->kind == Kind::Packed &&
                           !steps[j]->linear && steps[j]->input == "binary";
    s.signs_out = true;
    s.unpack = !into_conv;
    s.pools = pools;
    std::string& names = infos[static_cast<size_t>(s.info)].fused;
    for (size_t f = i + 1; f < j; ++f) {
      steps[f]->fused = true;
      names += (names.empty() ? "" : " ") + steps[f]->layer->name();
    }
    if (s.unpack) names += " (unpacked to ±1)";
    if (into_conv) steps[j]->signs_from = &s;
  }
}

}  // namespace

PackedRunner::PackedRunner(Model& model, const std::set<std::string>& quantized, bool strict,
                           const std::string& where) {
  Builder b{quantized, strict, where, infos_, {}};
  b.build(model.net->children(), ValueSet{}, steps_);
  fuse_signs(steps_, infos_);
  layer_seconds_.assign(infos_.size(), 0.0);
  for (const ModelTensor& t : model.tensors()) {
    const int64_t f = 4 * shape_size(t.shape());
    float_weight_bytes_ += f;
    auto it = b.packed_bytes.find(t.name);
    weight_bytes_ += it == b.packed_bytes.end() ? f : it->second;
  }
}

PackedRunner::~PackedRunner() = default;

void PackedRunner::reset_times() {
  std::fill(layer_seconds_.begin(), layer_seconds_.end(), 0.0);
  other_seconds_.clear();
}

namespace {

struct Exec {
  Context ctx;
  std::vector<double>& seconds;
  std::map<std::string, double>& other;
  bool cpu_clock = false;
  std::vector<double>* worst = nullptr;  // forward_checked
  // The packed form of tensors of this pass (signs of ±1, bit planes of b-bit codes; a tensor
  // holds one set, so one map), by tensor: a residual block's input is read by its first conv and
  // its downsampling conv, and packed once.
  std::map<const Tensor*, const std::vector<uint64_t>*> packed_inputs = {};

  double now() const { return clock_seconds(cpu_clock); }

  const Tensor& run(Steps& steps, const Tensor& x) {
    const Tensor* cur = &x;
    for (auto& s : steps) {
      if (s->fused && !worst) continue;  // done by the conv before it
      const double t0 = now();
      step(*s, *cur);
      if (s->info >= 0)
        seconds[static_cast<size_t>(s->info)] += now() - t0;
      else if (s->kind == PackedRunner::Step::Kind::Layer)
        other[s->layer->kind()] += now() - t0;
      cur = &s->out;
    }
    return *cur;
  }

  void step(PackedRunner::Step& s, const Tensor& x) {
    using Kind = PackedRunner::Step::Kind;
    if (s.kind == Kind::Layer) {
      s.layer->forward(x, s.out, ctx);
      return;
    }
    if (s.kind == Kind::Residual) {
      // y = body(x) + shortcut(x), then a ReLU if the block has one (as Residual::forward)
      const Tensor& b = run(s.body, x);
      const Tensor& sc = s.shortcut.empty() ? x : run(s.shortcut, x);
      if (b.shape() != sc.shape())
        throw std::invalid_argument(s.layer->name() + ": body gives " + shape_str(b.shape()) +
                                    " but the shortcut gives " + shape_str(sc.shape()));
      const double t0 = now();
      s.out.resize(b.shape());
      const float* bp = b.data();
      const float* sp = sc.data();
      float* y = s.out.data();
      const bool relu = s.relu;
      parallel_for(s.out.size(), 1 << 15, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const float z = bp[i] + sp[i];
          y[i] = relu && z < 0.0f ? 0.0f : z;
        }
      });
      other["residual sum"] += now() - t0;
      return;
    }
    packed(s, x);
    if (!worst) return;
    // The float layers on the same input; their result goes on.
    s.layer->forward(x, s.float_out, ctx);
    if (s.folded_bn) {
      s.folded_bn->forward(s.float_out, s.float_bn_out, ctx);
      std::swap(s.float_out, s.float_bn_out);
    }
    double scale = 0.0, diff = 0.0;
    for (int64_t i = 0; i < s.float_out.size(); ++i) {
      scale = std::max(scale, std::abs(static_cast<double>(s.float_out[i])));
      diff = std::max(diff, std::abs(static_cast<double>(s.float_out[i]) - s.out[i]));
    }
    double& w = (*worst)[static_cast<size_t>(s.info)];
    w = std::max(w, diff / (1.0 + scale));
    std::swap(s.out, s.float_out);
  }

  void packed(PackedRunner::Step& s, const Tensor& x) {
    const bool fused = !worst;
    if (fused && s.signs_from) {
      // the packed signs of the conv before (x is not computed)
      const Shape& in = s.signs_from->signs_shape;
      const ConvShape g{in[0], s.w.cin, s.w.cout, in[2], in[3], s.k, s.stride, s.pad};
      if (in[1] != s.w.cin)
        throw std::invalid_argument(s.layer->name() + ": expected " + std::to_string(s.w.cin) +
                                    " channels, got " + shape_str(in));
      write(s, g, s.signs_from->pooled.data(), fused);
      return;
    }
    const int64_t n = x.dim(0);
    ConvShape g{n, s.w.cin, s.w.cout, 1, 1, s.k, s.stride, s.pad};
    if (s.linear) {
      if (x.ndim() != 2 || x.dim(1) != s.w.cin)
        throw std::invalid_argument(s.layer->name() + ": expected (N, " + std::to_string(s.w.cin) +
                                    "), got " + shape_str(x.shape()));
    } else {
      if (x.ndim() != 4 || x.dim(1) != s.w.cin)
        throw std::invalid_argument(s.layer->name() + ": expected (N, " + std::to_string(s.w.cin) +
                                    ", H, W), got " + shape_str(x.shape()));
      g.h = x.dim(2);
      g.w = x.dim(3);
    }
    if (s.input == "binary" || s.input == "bits") {
      // (the convs reading one tensor read it on one quantizer's grid)
      auto it = packed_inputs.find(&x);
      if (it == packed_inputs.end()) {
        if (s.input == "binary")
          pack_signs(x.data(), n, g.cin, g.h, g.w, s.packed);
        else if (!pack_codes(x.data(), n, g.cin, g.h, g.w, s.alpha, s.bits, s.packed))
          throw std::logic_error(s.layer->name() + ": its input is not on the " +
                                 std::to_string(s.bits) +
                                 "-bit grid of α = " + std::to_string(s.alpha));
        it = packed_inputs.emplace(&x, &s.packed).first;
      }
      write(s, g, it->second->data(), fused);
    } else if (s.linear) {
      s.out.resize({n, s.w.cout});
      signselect_conv(g, s.w, x.data(), s.scale.data(), s.shift.data(), s.out.data());
    } else {
      s.out.resize({n, s.w.cout, g.ho(), g.wo()});
      expanded_conv(*ctx.workspace, g, s.w, x.data(), s.scale.data(), s.shift.data(), s.out.data());
      if (fused && s.signs_out) {
        pack_signs(s.out.data(), n, s.w.cout, g.ho(), g.wo(), s.signs);
        pool_signs(s, g);
      }
    }
  }

  // A popcount kernel on the packed input xp: y into s.out, or (fused) its signs, max-pooled,
  // into s.pooled.
  void write(PackedRunner::Step& s, const ConvShape& g, const uint64_t* xp, bool fused) {
    const bool xnor = s.input == "binary";
    if (!(fused && s.signs_out)) {
      s.out.resize(s.linear ? Shape{g.n, g.cout} : Shape{g.n, g.cout, g.ho(), g.wo()});
      if (xnor)
        xnor_conv(g, s.w, xp, s.scale.data(), s.shift.data(), s.out.data());
      else
        bitserial_conv(g, s.bits, s.w, xp, s.scale.data(), s.shift.data(), s.out.data());
      return;
    }
    if (xnor)
      xnor_conv_signs(g, s.w, xp, s.scale.data(), s.shift.data(), s.signs);
    else
      bitserial_conv_signs(g, s.bits, s.w, xp, s.scale.data(), s.shift.data(), s.signs);
    pool_signs(s, g);
  }

  // The signs of a fused conv's output (in s.signs) through its max pools into s.pooled, then
  // unpacked into s.out when the next step is not a packed conv.
  void pool_signs(PackedRunner::Step& s, const ConvShape& g) {
    Shape shape{g.n, g.cout, g.ho(), g.wo()};
    std::swap(s.pooled, s.signs);
    for (MaxPool2d* p : s.pools) {
      const Shape next = p->output_shape(shape);
      or_pool(s.pooled.data(), g.n, shape[2], shape[3], words_for(g.cout), p->kernel(), p->stride(),
              p->padding(), s.signs);
      std::swap(s.pooled, s.signs);
      shape = next;
    }
    s.signs_shape = shape;
    if (s.unpack) {
      s.out.resize(shape);
      unpack_signs(s.pooled.data(), shape[0], shape[1], shape[2], shape[3], s.out.data());
      packed_inputs[&s.out] = &s.pooled;
    }
  }
};

}  // namespace

const Tensor& PackedRunner::forward(const Tensor& x) {
  Exec e{Context{}, layer_seconds_, other_seconds_, cpu_clock_};
  e.ctx.training = false;
  e.ctx.workspace = &workspace_;
  return e.run(steps_, x);
}

const Tensor& PackedRunner::forward_checked(const Tensor& x, std::vector<double>& worst) {
  worst.assign(infos_.size(), 0.0);
  Exec e{Context{}, layer_seconds_, other_seconds_, cpu_clock_, &worst};
  e.ctx.training = false;
  e.ctx.workspace = &workspace_;
  return e.run(steps_, x);
}

}  // namespace qt
