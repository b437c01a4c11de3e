#pragma once
// The packed inference engine: a package's network run with bit operations where its layers
// allow (`qtrain infer`, `qtrain eval PACKAGE --engine packed`).
//
// The runner walks the model's layers once and gives every conv and linear layer a kernel from
// the set of its weights and the set of its input, the input's set being what the layers before
// it produce: a sign activation gives binary {−1, +1}; BCGD's quantizer gives b-bit codes α·q;
// max pooling and flattening keep the set; anything else (the image, ReLU, BatchNorm, a residual
// sum) gives floats.
//   binary/ternary weights × binary input   xnor_conv (engine/kernels/packed_conv.h)
//   binary/ternary weights × b-bit input     bitserial_conv
//   binary/ternary weights × float input     signselect_conv (engine/kernels/packed_signselect.h)
//                                            for a linear layer
//   binary/ternary weights × float input     expanded_conv (engine/kernels/packed_expanded.h)
//                                            for a conv: the float kernels over the signs
//   float weights (not quantized)            the layer itself, in float
// A packed layer's scale (its β per output channel, times α of a b-bit input) and a BatchNorm
// right after it are folded into one affine per output channel: y = scale·s + shift on the
// integer sum s. Every other layer (activations, pooling, BatchNorm elsewhere, residual sums)
// runs as in float evaluation, except a sign (and max pooling) between two popcount convs: the
// first conv writes the signs packed (xnor_conv_signs), the pools OR them (or_pool), and the next
// conv reads them, with no float tensor in between. The function is float evaluation's: the integer
// sums are exact, only the order of the float scale multiplications differs.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "engine/kernels/packed_weights.h"
#include "engine/kernels/workspace.h"
#include "engine/layers/layer.h"

namespace qt {

class Model;

// One conv or linear layer as the runner runs it.
struct PackedLayerInfo {
  std::string name, kind;  // "conv2d" | "linear"
  std::string weights;     // "binary" | "ternary" | "float" | "quantized, not binary or ternary"
  std::string input;       // "binary" | "bits" | "float"
  int bits = 0;            // of a "bits" input
  float alpha = 0.0f;      // of a "bits" input
  std::string kernel;      // "xnor" | "bitserial" | "signselect" | "expanded" | "float"
  std::string folded_bn;   // the BatchNorm folded into it, "" when none
  std::string fused;       // the sign and max pools fused into its output ("act1 pool1"), or ""
  std::string why;         // why a quantized layer cannot run packed ("" when it can)
  int64_t weight_bytes = 0, float_weight_bytes = 0;  // as loaded; as float32
};

nlohmann::json to_json(const PackedLayerInfo& l);

class PackedRunner {
 public:
  // Builds the plan over `model`'s evaluated tensors (a parameter's `used`). `quantized`: the
  // names of the quantized weights ("conv2.weight"), the others run in float. A quantized layer
  // whose weights are not binary or ternary is recorded with its reason; `strict` makes it a
  // DataError naming `where`, the layer and the reason.
  PackedRunner(Model& model, const std::set<std::string>& quantized, bool strict,
               const std::string& where);
  ~PackedRunner();
  PackedRunner(const PackedRunner&) = delete;
  PackedRunner& operator=(const PackedRunner&) = delete;

  // Logits (N × classes) of a batch of images (N, C, H, W).
  const Tensor& forward(const Tensor& x);
  // The same, but every packed layer is also computed by its float layers (the conv or linear
  // layer and the folded BatchNorm) on the same input, and the float result goes on: each packed
  // layer is compared with float evaluation on exactly its own input. worst[i] (indices as
  // layers()) = max |packed − float| / (1 + max |float|) of layer i, 0 for float layers.
  // (End to end, a b-bit network may move an activation by one step where a value lands on a
  // step boundary in one summation order and not the other; any two float orders do the same.)
  const Tensor& forward_checked(const Tensor& x, std::vector<double>& worst);
  const std::vector<PackedLayerInfo>& layers() const { return infos_; }
  // Bytes of every parameter and buffer as the runner holds them (packed layers as bit planes),
  // and as float32.
  int64_t weight_bytes() const { return weight_bytes_; }
  int64_t float_weight_bytes() const { return float_weight_bytes_; }
  // Seconds spent in each conv and linear layer (and all), summed over forward calls since the
  // last reset; indices as layers().
  const std::vector<double>& layer_seconds() const { return layer_seconds_; }
  // Seconds spent in everything else, by layer kind ("sign", "maxpool2d", "residual sum", ...):
  // the float work between the convolutions, which both engines do.
  const std::map<std::string, double>& other_seconds() const { return other_seconds_; }
  void reset_times();
  // Layer times by the process's CPU clock instead of the wall clock: with one thread on a busy
  // machine, this process's work without its waiting (benchmarks).
  void time_by_cpu_clock(bool on) { cpu_clock_ = on; }

  struct Step;

 private:
  std::vector<std::unique_ptr<Step>> steps_;
  std::vector<PackedLayerInfo> infos_;
  std::vector<double> layer_seconds_;
  std::map<std::string, double> other_seconds_;
  int64_t weight_bytes_ = 0, float_weight_bytes_ = 0;
  bool cpu_clock_ = false;
  Workspace workspace_;
};

// The quantized weights of a package manifest's tensor list: the entries stored as codebooks,
// without their "param/" prefix.
std::set<std::string> quantized_weights(const nlohmann::json& tensors);

}  // namespace qt
