#pragma once
// A training algorithm is a policy on the weight seam (engine/core/param.h). The training loop
// calls its hooks in this order:
//
//   configure(model options)            before the model is built (swap activations, e.g. BCGD)
//   attach(model)                       once, after the model is built and initialised
//   per epoch:  start_epoch(e)          λ growth, the next layer to binarize, ρ growth ...
//               learning_rate(...)      the rate the optimizer uses this epoch (default: the
//               schedule's)
//     per step:  before_forward()       fill Param::used with Q(w), u, sign(w) ...
//                (forward, backward: gradients are taken at `used`)
//                adjust_gradients()     after backward, before the step: ProxyBNN's chain rule
//                                       into C and P, BCGD's blend of w
//                (optimizer step on the float masters)
//                after_step()           clip, step counters
//     end_epoch(e)                      flip ratio, projection error ...
//     for evaluation:  begin_eval() ... end_eval()   what the evaluated and saved network uses;
//       then, for each name of eval_variants(): set_eval_variant(name), begin_eval() ...
//       end_eval(), set_eval_variant("") — e.g. BinaryRelax's phase I is evaluated at u and at
//       Q(w).
//
// A mid-epoch resume calls restore (state_tensors, load_state_json) and continues with
// before_forward, without start_epoch: everything start_epoch derives must come back from the
// state.
//
// Layers never know which algorithm runs; algorithms never know the shape of a conv.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

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
  // The learning rate of `epoch`, given the schedule's (`scheduled`) and the base rate.
  virtual float learning_rate(float scheduled, float base, int epoch) const {
    (void)base, (void)epoch;
    return scheduled;
  }
  virtual void before_forward() {}
  virtual void adjust_gradients() {}
  virtual void after_step() {}
  virtual void end_epoch(int epoch) { (void)epoch; }
  virtual void begin_eval() { before_forward(); }
  virtual void end_eval() {}
  // Further evaluations this epoch besides the main one ("quantized": at Q(w)); the loop records
  // each under epoch_record()["eval"][name].
  virtual std::vector<std::string> eval_variants() const { return {}; }
  virtual void set_eval_variant(const std::string& variant) { (void)variant; }
  // Parameters the optimizer should update besides the model's (e.g. ProxyBNN's proxy matrices).
  virtual std::vector<Param*> extra_params() { return {}; }
  // Per-epoch fields for metrics.jsonl (λ, α, binary layers, projection error, flip ratio ...).
  virtual nlohmann::json epoch_record() { return nlohmann::json::object(); }
  // Everything the algorithm keeps between steps, for exact resume: tensors and scalars.
  virtual std::vector<std::pair<std::string, Tensor*>> state_tensors() { return {}; }
  virtual nlohmann::json state_json() const { return nlohmann::json::object(); }
  virtual void load_state_json(const nlohmann::json&) {}
  // The parameters that the evaluated network holds quantized, each with the most distinct values
  // its tensor may hold: after begin_eval(), distinct_values(p->used) ≤ that number.
  virtual std::vector<std::pair<Param*, int64_t>> quantized_params() { return {}; }
};

}  // namespace qt
