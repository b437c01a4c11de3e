#pragma once
// What every algorithm of docs/math.md §3 shares: the quantized weight tensors with their
// projection, the activation sites (--act), and the per-epoch metrics of docs/math.md §6
// (projection error, flip ratio, α of each activation quantizer). Each algorithm derives from it
// and fills Param::used in its own way.
#include <string>
#include <vector>

#include "engine/quant/act_quantizer.h"
#include "engine/quant/algo_options.h"
#include "engine/quant/algorithm.h"
#include "engine/quant/layer_selection.h"
#include "engine/quant/projection.h"

namespace qt {

// One quantized weight tensor.
struct QuantTarget {
  Param* param = nullptr;
  ProjectionSpec spec;
  int64_t rows = 1;       // shape[0]: one α per row when spec.per_channel
  Tensor q;               // Q(latent) of the latest projection
  ProjectionResult fit;   // its α and error
  Tensor ref_codes;       // the codes Q/α at the start of the epoch, for the flip ratio
  double flip_ratio = 0;  // of the last finished epoch
  const std::string& layer() const { return param->layer; }
  // The most distinct values the tensor may hold: the set's size, per row when per channel.
  int64_t max_values() const { return set_size(spec) * (spec.per_channel ? rows : 1); }
};

class QuantAlgorithm : public Algorithm {
 public:
  explicit QuantAlgorithm(AlgoOptions opt);
  std::string name() const override { return opt_.name; }
  void configure(ModelOptions& mo) override;
  void attach(Model& model) override;
  void start_epoch(int epoch, int epochs) override;
  float learning_rate(float scheduled, float base, int epoch) const override;
  void after_step() override { ++step_in_epoch_; }
  void end_epoch(int epoch) override;
  nlohmann::json epoch_record() override;
  std::vector<std::pair<std::string, Tensor*>> state_tensors() override;
  nlohmann::json state_json() const override;
  void load_state_json(const nlohmann::json& j) override;
  std::vector<std::pair<Param*, int64_t>> quantized_params() override;

  const AlgoOptions& options() const { return opt_; }
  std::vector<QuantTarget>& targets() { return targets_; }
  const std::vector<ActQuantizer*>& act_quantizers() const { return acts_; }
  // The activation the sites get: relu, hardtanh, binary, binary-bireal, quant, or "model".
  std::string activation() const;
  // The projection every target uses under these options.
  ProjectionSpec projection() const;
  // Whether a target is quantized in the network evaluated now (iterative: the binary layers).
  virtual bool quantized_now(const QuantTarget& t) const {
    (void)t;
    return true;
  }
  // One line about a target for `--list-layers` (iterative adds its place in the order).
  virtual std::string describe_target(const QuantTarget& t) const;

 protected:
  // The algorithm's own projection, before --projection / --bits / --per-channel.
  virtual ProjectionSpec default_projection() const;
  // Called at the end of attach, with targets_ filled.
  virtual void on_attach(Model& model) { (void)model; }
  // Derives everything that depends only on the epoch (λ, ρ, the binary layers): called from
  // start_epoch and after load_state_json, so a mid-epoch resume gets it back.
  virtual void on_epoch(int epoch) { (void)epoch; }
  // What Q acts on: w itself, or ProxyBNN's W̃ = C·P.
  virtual const Tensor& latent(QuantTarget& t) { return t.param->value; }
  // Algorithm-specific fields of the epoch record. (The resume state needs none: everything an
  // algorithm derives from the epoch comes back through on_epoch.)
  virtual void add_record(nlohmann::json& rec) { (void)rec; }

  // t.q = Q(latent(t)), t.fit its α and error.
  void project(QuantTarget& t);
  // Param::used of t holds `src` (a tensor of the same size).
  static void use(QuantTarget& t, const Tensor& src);

  AlgoOptions opt_;
  std::vector<QuantTarget> targets_;
  std::vector<ActQuantizer*> acts_;
  int epoch_ = 0, epochs_ = 0;
  int64_t step_in_epoch_ = 0;  // training steps taken in the current epoch
  nlohmann::json metrics_ = nlohmann::json::object();

 private:
  void codes_into(QuantTarget& t, Tensor& codes);
  void set_act_learning(int epoch);
};

// The end-of-run check (docs/math.md §6) of the evaluated network: for each quantized parameter,
// its distinct values against what its set allows: {"ok": bool, "layers": {name: {"distinct",
// "allowed"}}}. Calls begin_eval()/end_eval() itself.
nlohmann::json check_quantized_sets(Algorithm& algo);

// Throws UsageError on a bad value of any option read by the activation sites.
ActQuantConfig act_quant_config(const AlgoOptions& opt);

}  // namespace qt
