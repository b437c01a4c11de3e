#include "engine/models/model.h"

#include <algorithm>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "engine/core/error.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/linear.h"
#include "engine/models/builders.h"

namespace qt {

namespace {

struct Entry {
  const char* name;
  std::function<void(Model&)> build;
};

const std::vector<Entry>& registry() {
  using namespace models;
  static const std::vector<Entry> r = {
      {"mlp", [](Model& m) { build_mlp(m, false); }},
      {"mlp-bn", [](Model& m) { build_mlp(m, true); }},
      {"lenet5", [](Model& m) { build_lenet5(m, false); }},
      {"lenet5-bn", [](Model& m) { build_lenet5(m, true); }},
      {"vgg5", build_vgg5},
      {"vgg9", build_vgg9},
      {"vgg11", build_vgg11},
      {"resnet20", [](Model& m) { build_resnet_cifar(m, 20); }},
      {"resnet32", [](Model& m) { build_resnet_cifar(m, 32); }},
      {"resnet44", [](Model& m) { build_resnet_cifar(m, 44); }},
      {"resnet56", [](Model& m) { build_resnet_cifar(m, 56); }},
      {"resnet18", build_resnet18},
  };
  return r;
}

std::string join(const std::vector<std::string>& v) {
  std::string r;
  for (const auto& s : v) r += (r.empty() ? "" : ", ") + s;
  return r;
}

// A shape without its batch dimension, "16x32x32" (ASCII, so that table columns line up).
std::string image_shape(const Shape& s) {
  std::string r;
  for (size_t i = 1; i < s.size(); ++i) {
    if (i > 1) r += 'x';
    r += std::to_string(s[i]);
  }
  return r;
}

bool is_weighted(Layer* l) {
  return dynamic_cast<Conv2d*>(l) != nullptr || dynamic_cast<Linear*>(l) != nullptr;
}

// Sequential children see their predecessor's output; other containers (a residual block's
// body and shortcut) each see the container's input.
void trace_into(Layer* l, int depth, const Shape& in, std::vector<LayerTrace>& out) {
  out.push_back({l, depth, in, l->output_shape(in)});
  const bool chain = dynamic_cast<Sequential*>(l) != nullptr;
  Shape s = in;
  for (Layer* c : l->children()) {
    const size_t at = out.size();
    trace_into(c, depth + 1, chain ? s : in, out);
    if (chain) s = out[at].out;
  }
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> r;
  for (const auto& e : registry()) r.push_back(e.name);
  return r;
}

ModelOptions natural_options(const std::string& name) {
  ModelOptions o;
  if (name.starts_with("vgg") || (name.starts_with("resnet") && name != "resnet18")) {
    o.in_channels = 3;
    o.height = o.width = 32;
  } else if (name == "resnet18") {
    o.in_channels = 3;
    o.height = o.width = 224;
    o.classes = 1000;
  }
  return o;
}

std::unique_ptr<Model> make_model(const std::string& name, const ModelOptions& options) {
  auto it = std::find_if(registry().begin(), registry().end(),
                         [&](const Entry& e) { return name == e.name; });
  if (it == registry().end())
    throw UsageError("unknown model '" + name + "' (valid: " + join(model_names()) + ")");
  if (options.in_channels < 1 || options.height < 1 || options.width < 1 || options.classes < 2)
    throw UsageError("model " + name + ": invalid input " + std::to_string(options.in_channels) +
                     "×" + std::to_string(options.height) + "×" + std::to_string(options.width) +
                     " or class count " + std::to_string(options.classes) +
                     " (need positive sizes and at least 2 classes)");
  auto m = std::make_unique<Model>();
  m->name = name;
  m->options = options;
  m->net = std::make_unique<Sequential>(name);
  try {
    it->build(*m);
    const Shape out = m->net->output_shape(m->input_shape(1));
    if (out != Shape{1, options.classes})
      throw std::invalid_argument("its output is " + shape_str(out));
  } catch (const std::invalid_argument& e) {
    throw UsageError("model " + name + " cannot take " + std::to_string(options.in_channels) + "×" +
                     std::to_string(options.height) + "×" + std::to_string(options.width) +
                     " images: " + e.what());
  }
  m->params.finalize();
  m->init(0);
  return m;
}

Tensor& Model::forward(const Tensor& x, const Context& ctx) {
  if (x.ndim() != 4 || x.dim(1) != options.in_channels || x.dim(2) != options.height ||
      x.dim(3) != options.width)
    throw UsageError("model " + name + " takes (N, " + std::to_string(options.in_channels) + ", " +
                     std::to_string(options.height) + ", " + std::to_string(options.width) +
                     ") images, got " + shape_str(x.shape()));
  input_ = &x;
  Context c = ctx;
  if (!c.workspace) c.workspace = &workspace_;
  net->forward(x, logits_, c);
  return logits_;
}

void Model::backward(const Tensor& dlogits) {
  if (!input_) throw std::logic_error("Model::backward before forward");
  if (dlogits.shape() != logits_.shape())
    throw std::invalid_argument("Model::backward: dlogits " + shape_str(dlogits.shape()) +
                                " for logits " + shape_str(logits_.shape()));
  net->backward(*input_, logits_, dlogits, nullptr);
}

void Model::init(uint64_t seed) {
  Rng rng(derive(seed, "init"));
  net->init(rng);
}

std::vector<Layer*> Model::layers() {
  std::vector<Layer*> r;
  collect_layers(net.get(), r);
  return r;
}

void ModelTensor::set(const Tensor& t) const {
  if (param) {
    param->restore();
    param->value.copy_from(t);
  } else {
    buffer->value.copy_from(t);
  }
}

std::vector<ModelTensor> Model::tensors() {
  std::vector<ModelTensor> r;
  for (Param* p : params.params()) r.push_back({"param/" + p->name, p, nullptr});
  for (Buffer* b : params.buffers()) r.push_back({"buffer/" + b->name, nullptr, b});
  return r;
}

std::vector<Param*> Model::quantizable() {
  std::vector<Param*> r;
  for (Layer* l : layers())
    if (is_weighted(l))
      for (Param* p : l->params())
        if (p->role == ParamRole::Weight) r.push_back(p);
  return r;
}

Layer* Model::find_layer(const std::string& layer_name) {
  for (Layer* l : layers())
    if (l->name() == layer_name) return l;
  return nullptr;
}

std::vector<LayerTrace> Model::trace(int64_t batch) {
  std::vector<LayerTrace> r;
  trace_into(net.get(), 0, input_shape(batch), r);
  return r;
}

int64_t Model::macs_per_image() {
  int64_t macs = 0;
  for (const LayerTrace& t : trace(1))
    if (is_weighted(t.layer))
      for (Param* p : t.layer->params())
        if (p->role == ParamRole::Weight)
          macs += shape_size(t.out) * (p->value.size() / p->shape[0]);
  return macs;
}

std::string Model::summary() {
  const std::vector<LayerTrace> rows = trace(1);
  // Parameters of each row's subtree: its own and those of the rows below it at a greater depth.
  std::vector<int64_t> own(rows.size(), 0), counts(rows.size(), 0);
  for (size_t i = 0; i < rows.size(); ++i)
    for (Param* p : rows[i].layer->params()) own[i] += p->value.size();
  for (size_t i = 0; i < rows.size(); ++i) {
    counts[i] = own[i];
    for (size_t j = i + 1; j < rows.size() && rows[j].depth > rows[i].depth; ++j)
      counts[i] += own[j];
  }
  size_t wname = 5, wdesc = 11;
  for (const auto& r : rows) {
    wname = std::max(wname, 2 * r.depth + r.layer->name().size());
    wdesc = std::max(wdesc, r.layer->describe().size());
  }
  std::ostringstream os;
  auto pad = [](std::string s, size_t w) {
    return s + std::string(w > s.size() ? w - s.size() : 0, ' ');
  };
  os << pad("layer", wname + 2) << pad("description", wdesc + 2) << pad("output", 16) << "params\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    os << pad(std::string(2 * r.depth, ' ') + r.layer->name(), wname + 2)
       << pad(r.layer->describe(), wdesc + 2) << pad(image_shape(r.out), 16) << counts[i] << "\n";
  }
  os << "input " << image_shape(input_shape(1)) << ", " << params.count() << " parameters in "
     << params.params().size() << " tensors, " << quantizable().size() << " quantizable, "
     << macs_per_image() << " multiply-adds per image\n";
  return os.str();
}

}  // namespace qt
