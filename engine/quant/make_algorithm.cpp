#include "engine/quant/make_algorithm.h"

#include <sstream>

#include "engine/core/error.h"
#include "engine/quant/bcgd.h"
#include "engine/quant/binaryconnect.h"
#include "engine/quant/binaryrelax.h"
#include "engine/quant/bwn.h"
#include "engine/quant/float_training.h"
#include "engine/quant/iterative.h"
#include "engine/quant/proxybnn.h"
#include "engine/quant/ste.h"

namespace qt {

std::vector<std::string> algorithm_names() {
  return {"float", "binaryconnect", "bwn", "ste", "binaryrelax", "bcgd", "iterative", "proxybnn"};
}

std::string algorithm_help() {
  return "float: plain training; binaryconnect: sign(w), w clipped to [-1,1] (use a -bn model); "
         "bwn: mean|w|·sign(w) per output channel; ste: forward/backward at Q(w) for --projection; "
         "binaryrelax: u = (λQ(w)+w)/(1+λ), then Q(w) from --phase2-epoch; "
         "bcgd: Q(w) with blending ρ and b-bit activations with learnable α; "
         "iterative: layer-by-layer sign(w) binarization in --order; "
         "proxybnn: W̃ = C·P binarized per channel (a reconstruction from the abstract: no paper "
         "text or code "
         "was available)";
}

std::unique_ptr<QuantAlgorithm> make_quant_algorithm(const AlgoOptions& opt) {
  const std::string& n = opt.name;
  if (n == "float") return std::make_unique<FloatTraining>(opt);
  if (n == "binaryconnect") return std::make_unique<BinaryConnect>(opt);
  if (n == "bwn") return std::make_unique<Bwn>(opt);
  if (n == "ste") return std::make_unique<Ste>(opt);
  if (n == "binaryrelax") return std::make_unique<BinaryRelax>(opt);
  if (n == "bcgd") return std::make_unique<Bcgd>(opt);
  if (n == "iterative") return std::make_unique<Iterative>(opt);
  if (n == "proxybnn") return std::make_unique<ProxyBnn>(opt);
  std::string valid;
  for (auto& v : algorithm_names()) valid += (valid.empty() ? "" : ", ") + v;
  throw UsageError("unknown algorithm '" + n + "': expected one of " + valid);
}

std::unique_ptr<Algorithm> make_algorithm(const AlgoOptions& opt) {
  return make_quant_algorithm(opt);
}

std::string describe_layers(const std::string& model_name, ModelOptions mo, const AlgoOptions& opt,
                            int epochs) {
  auto algo = make_quant_algorithm(opt);
  algo->configure(mo);
  auto model = make_model(model_name, mo);
  algo->attach(*model);
  if (epochs > 0) algo->start_epoch(0, epochs);
  std::ostringstream os;
  os << "layers of " << model_name << " under --algo " << opt.name
     << " (default: " << describe_default(default_layers(opt.name)) << "):\n";
  size_t w = 5;
  for (Param* p : model->quantizable()) w = std::max(w, p->layer.size());
  for (Param* p : model->quantizable()) {
    std::string note = "float";
    for (const QuantTarget& t : algo->targets())
      if (t.param == p) note = "quantized: " + algo->describe_target(t);
    Layer* l = model->find_layer(p->layer);
    std::string name = p->layer;
    name.resize(w + 2, ' ');
    std::string kind = l ? l->kind() : "?";
    kind.resize(8, ' ');
    std::string shape = shape_str(p->shape);
    shape.resize(std::max<size_t>(shape.size() + 2, 18), ' ');
    os << "  " << name << kind << shape << note << "\n";
  }
  const std::string act = algo->activation();
  os << "activation sites: "
     << (act == "model" ? "the model's " + mo.activation
         : act == "quant"
             ? "b-bit quantizer (" + std::to_string(opt.act_bits) + " bits, learnable α)"
             : act)
     << "\n";
  return os.str();
}

}  // namespace qt
