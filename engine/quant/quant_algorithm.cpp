#include "engine/quant/quant_algorithm.h"

#include <cmath>
#include <sstream>

#include "engine/core/error.h"
#include "engine/models/model.h"
#include "engine/quant/sign_activation.h"

namespace qt {

using json = nlohmann::json;

ActQuantConfig act_quant_config(const AlgoOptions& opt) {
  ActQuantConfig c;
  c.bits = opt.act_bits;
  c.backward = opt.act_backward;
  c.alpha_grad = opt.alpha_grad;
  c.rate = static_cast<float>(opt.alpha_rate);
  c.alpha_init =
      opt.alpha_init > 0 ? static_cast<float>(opt.alpha_init) : alpha_table(opt.act_bits);
  if (c.alpha_init == 0.0f) {
    // Without a table entry α must come from somewhere: calibration sets it from the first batch.
    if (opt.alpha_stage == 0)
      throw UsageError("--act-bits " + std::to_string(opt.act_bits) +
                       " has no starting α in the BCGD table (1, 2 or 4 bits): give --alpha-init "
                       "or --alpha-stage");
    c.alpha_init = 1.0f;
  }
  return c;
}

json check_quantized_sets(Algorithm& algo) {
  algo.begin_eval();
  json layers = json::object();
  bool ok = true;
  for (auto& [p, allowed] : algo.quantized_params()) {
    const int64_t distinct = distinct_values(p->used.span());
    ok = ok && distinct <= allowed;
    layers[p->name] = {{"distinct", distinct}, {"allowed", allowed}};
  }
  algo.end_eval();
  return {{"ok", ok}, {"layers", layers}};
}

QuantAlgorithm::QuantAlgorithm(AlgoOptions opt) : opt_(std::move(opt)) {}

std::string QuantAlgorithm::activation() const {
  if (opt_.act != "default") return opt_.act;
  return opt_.name == "bcgd" ? "quant" : "model";
}

void QuantAlgorithm::configure(ModelOptions& mo) {
  const std::string act = activation();
  if (act == "model") return;
  if (act == "relu" || act == "hardtanh") {
    mo.activation = act;
    mo.make_activation = nullptr;
  } else if (act == "binary" || act == "binary-bireal") {
    const SignBackward b = act == "binary" ? SignBackward::Hardtanh : SignBackward::BiReal;
    mo.make_activation = [b](ParamStore&, const std::string& name) -> LayerPtr {
      return std::make_unique<SignActivation>(name, b);
    };
  } else if (act == "quant") {
    const ActQuantConfig cfg = act_quant_config(opt_);
    mo.make_activation = [cfg](ParamStore& store, const std::string& name) -> LayerPtr {
      return std::make_unique<ActQuantizer>(store, name, cfg);
    };
  } else {
    throw UsageError("unknown activation '" + act +
                     "': expected default, relu, hardtanh, binary, binary-bireal or quant");
  }
}

ProjectionSpec QuantAlgorithm::default_projection() const {
  return parse_projection("binary");
}

ProjectionSpec QuantAlgorithm::projection() const {
  const ProjectionSpec def = default_projection();
  ProjectionSpec s;
  if (opt_.projection == "default")
    s = opt_.bits == 0 || opt_.bits == def.bits
            ? def
            : parse_projection("bits", opt_.bits, opt_.lloyd_iters);
  else
    s = parse_projection(opt_.projection, opt_.bits, opt_.lloyd_iters);
  s.lloyd_iters = opt_.lloyd_iters;
  s.per_channel = opt_.per_channel || def.per_channel;
  return s;
}

void QuantAlgorithm::attach(Model& model) {
  for (Layer* l : model.layers())
    if (auto* a = dynamic_cast<ActQuantizer*>(l)) acts_.push_back(a);
  if (opt_.name != "float") {
    const ProjectionSpec spec = projection();
    for (Param* p : select_layers(model, opt_)) {
      QuantTarget t;
      t.param = p;
      t.spec = spec;
      t.rows = p->shape.empty() ? 1 : p->shape[0];
      t.q = Tensor(p->shape);
      t.ref_codes = Tensor(p->shape);
      targets_.push_back(std::move(t));
    }
  }
  on_attach(model);
  on_epoch(0);
  set_act_learning(0);
}

void QuantAlgorithm::set_act_learning(int epoch) {
  for (ActQuantizer* a : acts_) a->set_learning(epoch >= opt_.alpha_stage);
}

void QuantAlgorithm::project(QuantTarget& t) {
  const Tensor& w = latent(t);
  t.fit = qt::project(t.spec, w.span(), t.q.span(), t.rows);
}

void QuantAlgorithm::use(QuantTarget& t, const Tensor& src) {
  t.param->substitute().copy_from(src);
}

// code_i = round(q_i / α_row): which level of the set q_i is, whatever α does during the epoch.
void QuantAlgorithm::codes_into(QuantTarget& t, Tensor& codes) {
  const int64_t rows = t.spec.per_channel ? t.rows : 1;
  const int64_t per_row = t.q.size() / rows;
  for (int64_t r = 0; r < rows; ++r) {
    const float a = t.fit.alpha[t.spec.per_channel ? r : 0];
    const float* q = t.q.data() + r * per_row;
    float* c = codes.data() + r * per_row;
    for (int64_t i = 0; i < per_row; ++i) c[i] = a > 0.0f ? std::nearbyint(q[i] / a) : 0.0f;
  }
}

void QuantAlgorithm::start_epoch(int epoch, int epochs) {
  epoch_ = epoch;
  epochs_ = epochs;
  step_in_epoch_ = 0;
  on_epoch(epoch);
  set_act_learning(epoch);
  for (QuantTarget& t : targets_) {
    project(t);
    codes_into(t, t.ref_codes);
  }
}

float QuantAlgorithm::learning_rate(float scheduled, float base, int epoch) const {
  // The BCGD code steps a second optimizer, whose schedule is never stepped, once α is learned.
  if (opt_.alpha_constant_lr && !acts_.empty() && epoch >= opt_.alpha_stage) return base;
  return scheduled;
}

void QuantAlgorithm::end_epoch(int) {
  json err = json::object(), flips = json::object();
  int64_t flipped_all = 0, total_all = 0;
  Tensor codes;
  for (QuantTarget& t : targets_) {
    project(t);
    codes = Tensor(t.q.shape());
    codes_into(t, codes);
    int64_t flipped = 0;
    for (int64_t i = 0; i < codes.size(); ++i) flipped += codes[i] != t.ref_codes[i];
    t.flip_ratio = codes.size() ? static_cast<double>(flipped) / codes.size() : 0.0;
    // ‖w − Q(w)‖ / ‖w‖
    err[t.layer()] = t.fit.norm2 > 0 ? std::sqrt(t.fit.error2 / t.fit.norm2) : 0.0;
    flips[t.layer()] = t.flip_ratio;
    flipped_all += flipped;
    total_all += codes.size();
  }
  metrics_ = json::object();
  if (!targets_.empty()) {
    metrics_["proj_error"] = err;
    metrics_["flip_ratio"] = flips;
    metrics_["flip_ratio_total"] = total_all ? static_cast<double>(flipped_all) / total_all : 0.0;
  }
}

json QuantAlgorithm::epoch_record() {
  json rec = metrics_;
  if (!acts_.empty()) {
    json alphas = json::object();
    for (ActQuantizer* a : acts_) alphas[a->name()] = a->alpha_value();
    rec["alpha"] = alphas;
    rec["alpha_learned"] = acts_.front()->learning();
  }
  // Whether the evaluated network lies in the quantized set in every quantized layer: false in
  // BinaryRelax's phase I and before Iterative Training's last layer is binary. A result reported
  // for a quantization method is selected among such epochs only.
  bool all = true;
  for (const QuantTarget& t : targets_) all = all && quantized_now(t);
  rec["fully_quantized"] = all;
  add_record(rec);
  return rec;
}

std::vector<std::pair<std::string, Tensor*>> QuantAlgorithm::state_tensors() {
  std::vector<std::pair<std::string, Tensor*>> r;
  for (QuantTarget& t : targets_) r.emplace_back("ref_codes/" + t.param->name, &t.ref_codes);
  return r;
}

json QuantAlgorithm::state_json() const {
  return {{"epoch", epoch_}, {"epochs", epochs_}, {"step_in_epoch", step_in_epoch_}};
}

void QuantAlgorithm::load_state_json(const json& j) {
  if (!j.contains("epoch")) return;
  // From a checkpoint that passed its checksums but may have been edited: checked before use.
  auto integer = [&](const char* key, int64_t lo, int64_t hi) -> int64_t {
    const json& v = j.contains(key) ? j[key] : json(0);
    const bool ok = v.is_number_integer() &&
                    (v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(hi)
                                            : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi);
    if (!ok)
      throw DataError(std::string("the checkpoint's algorithm_state has ") + key + " = " +
                      v.dump().substr(0, 60) + ", expected an integer in " + std::to_string(lo) +
                      " … " + std::to_string(hi));
    return v.get<int64_t>();
  };
  const int64_t epochs = integer("epochs", 0, 1000000);
  const int64_t epoch = integer("epoch", 0, j.contains("epochs") ? epochs : 1000000);
  const int64_t step = integer("step_in_epoch", 0, int64_t{1} << 52);
  epoch_ = static_cast<int>(epoch);
  epochs_ = static_cast<int>(epochs);
  step_in_epoch_ = step;
  on_epoch(epoch_);
  set_act_learning(epoch_);
}

std::vector<std::pair<Param*, int64_t>> QuantAlgorithm::quantized_params() {
  std::vector<std::pair<Param*, int64_t>> r;
  for (QuantTarget& t : targets_)
    if (quantized_now(t)) r.emplace_back(t.param, t.max_values());
  return r;
}

std::string QuantAlgorithm::describe_target(const QuantTarget& t) const {
  std::ostringstream os;
  os << projection_name(t.spec);
  if (t.spec.kind == ProjectionKind::Bits) os << ' ' << t.spec.bits;
  if (t.spec.per_channel) os << " per channel";
  os << ", <= " << t.max_values() << " values";
  return os.str();
}

}  // namespace qt
