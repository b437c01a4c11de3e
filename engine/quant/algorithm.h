#pragma once
// A training algorithm is a policy on the weight seam (engine/core/param.h). The training loop
// calls its hooks in this order:
//
//   configure(model options)            before the model is built (swap activations, e.g. BCGD)
//   attach(model)                       once, after the model is built and initialised
//   per epoch:  start_epoch(e)          λ growth, the next layer to binarize, ρ growth ...
//     per step:  before_forward()       fill Param::used with Q(w), u, sign(w) ...
//                (forward, backward: gradients are taken at `used`)
//                adjust_gradients()     e.g. ProxyBNN's chain rule into C and P
//                (optimizer step on the float masters)
//                after_step()           blend, clip, α bookkeeping
//     end_epoch(e)                      flip ratio, projection error ...
//     for evaluation:  begin_eval() ... end_eval()   what the evaluated and saved network uses
//
// Layers never know which algorithm runs; algorithms never know the shape of a conv.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/param.h"

namespace qt {

class Model;
struct ModelOptions;

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual std::string name() const = 0;
  virtual void configure(ModelOptions&) {}
  virtual void attach(Model& model) = 0;
  virtual void start_epoch(int epoch, int epochs) { (void)epoch, (void)epochs; }
  virtual void before_forward() {}
  virtual void adjust_gradients() {}
  virtual void after_step() {}
  virtual void end_epoch(int epoch) { (void)epoch; }
  virtual void begin_eval() { before_forward(); }
  virtual void end_eval() {}
  // Parameters the optimizer should update besides the model's (e.g. ProxyBNN's proxy matrices).
  virtual std::vector<Param*> extra_params() { return {}; }
  // Per-epoch fields for metrics.jsonl (λ, α, binary layers, projection error, flip ratio ...).
  virtual nlohmann::json epoch_record() { return nlohmann::json::object(); }
  // Everything the algorithm keeps between steps, for exact resume: tensors and scalars.
  virtual std::vector<std::pair<std::string, Tensor*>> state_tensors() { return {}; }
  virtual nlohmann::json state_json() const { return nlohmann::json::object(); }
  virtual void load_state_json(const nlohmann::json&) {}
  // The quantized parameters and the size of their sets, for "lies in its set" checks and export.
  virtual std::vector<std::pair<Param*, int64_t>> quantized_params() { return {}; }
};

// Plain float training: the used tensors are the float masters.
class FloatAlgorithm : public Algorithm {
 public:
  std::string name() const override { return "float"; }
  void attach(Model&) override {}
};

}  // namespace qt
