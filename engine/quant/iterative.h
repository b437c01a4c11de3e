#pragma once
// iterative (Iterative Training, Lan 2021): cumulative layer binarization. Binary weights are
// sign(w), no scale; w is updated through the STE and not clipped. The layers are taken in an
// order; layer i of the order (0-based) is binary from epoch i·E on, E = `epochs-per-layer`, and
// stays binary, so the run starts with one binary layer and ends fully binary. E = 0 (the
// default) spreads the L layers over the run's `epochs`: layer i from epoch ⌊i·epochs/L⌋, so the
// last one is binary for at least the final epoch and a run shorter than L epochs binarizes
// several layers per epoch.
#include <string>
#include <vector>

#include "engine/quant/quant_algorithm.h"

namespace qt {

// The quantized layers (`layers`, forward order) in the order they become binary, for `order`:
// forward | reverse | random (seeded) | sensitivity-ascending:FILE | sensitivity-descending:FILE |
// a comma-separated list naming every quantized layer once. `model` names the model for messages
// and for checking a sensitivity file. Throws UsageError on an unknown keyword, an unknown,
// missing or repeated layer name; DataError on a bad sensitivity file.
std::vector<std::string> iterative_order(const std::vector<std::string>& layers,
                                         const std::string& order, uint64_t seed,
                                         const std::string& model = "");
// The first epoch in which layer `rank` of the order is binary: rank·E, or ⌊rank·epochs/layers⌋
// for E = 0.
int first_binary_epoch(int rank, int epochs_per_layer, int layers, int epochs);
// How many layers of the order are binary during `epoch` of a run of `epochs`.
int binary_count(int epoch, int epochs_per_layer, int layers, int epochs);
// Throws UsageError unless the last layer of the order becomes binary before the run ends.
void check_iterative_schedule(int layers, int epochs_per_layer, int epochs);

class Iterative : public QuantAlgorithm {
 public:
  using QuantAlgorithm::QuantAlgorithm;
  // used = sign(w) for the binary layers, w for the others
  void before_forward() override;
  // The code's quirk (off by default): the binary layers' w ← sign(w) after each evaluation.
  void end_eval() override;
  bool quantized_now(const QuantTarget& t) const override;
  std::string describe_target(const QuantTarget& t) const override;
  // The layer names in binarization order.
  const std::vector<std::string>& order() const { return order_names_; }
  // The layers binary in the current epoch, in binarization order.
  std::vector<std::string> binary_layers() const;

 protected:
  ProjectionSpec default_projection() const override { return parse_projection("binary-noscale"); }
  void on_attach(Model& model) override;
  void on_epoch(int epoch) override;
  void add_record(nlohmann::json& rec) override;

 private:
  std::vector<std::string> order_names_;
  std::vector<int> rank_;     // rank_[target index] = its place in the order
  std::vector<char> binary_;  // per target, this epoch
};

}  // namespace qt
