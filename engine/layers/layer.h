#pragma once
// The layer interface. A layer reads its input x, writes its output y, and in backward turns
// dL/dy into dL/dx (when asked) and writes the gradients of its own parameters (overwriting
// them: each parameter is used once per step). Layers keep whatever else backward needs
// (masks, normalised inputs) in their own buffers, reused from step to step.
#include <memory>
#include <string>
#include <vector>

#include "engine/core/param.h"
#include "engine/core/random.h"
#include "engine/core/tensor.h"

namespace qt {

class Workspace;  // engine/kernels/workspace.h
class ShardSync;  // engine/core/shard_sync.h

struct Context {
  bool training = true;
  uint64_t noise_key = 0;  // per-step key for counter-based randomness (dropout)
  // Scratch memory for the kernels: the model's (Model::forward sets it). Null: a layer that
  // needs scratch uses its own.
  Workspace* workspace = nullptr;
  // Training on one shard of a larger batch: where batch-wide sums are combined (null: the
  // batch is whole). Layers that keep it for backward keep it only until the next forward.
  ShardSync* sync = nullptr;
};

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  virtual std::string kind() const = 0;      // "conv2d", "linear", ...
  virtual std::string describe() const = 0;  // one line: kind and hyper-parameters
  // Output shape for an input of shape `in` (with the batch dimension); throws on a mismatch.
  virtual Shape output_shape(const Shape& in) const = 0;
  virtual void forward(const Tensor& x, Tensor& y, const Context& ctx) = 0;
  // dx == nullptr: the caller does not need dL/dx (first layer), skip computing it.
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) = 0;
  // Initialises the parameters (PyTorch's defaults unless the layer says otherwise).
  virtual void init(Rng&) {}
  virtual std::vector<Param*> params() { return {}; }
  virtual std::vector<Layer*> children() { return {}; }

 private:
  std::string name_;
};

using LayerPtr = std::unique_ptr<Layer>;

// Every layer of a tree, depth first, parents before children.
void collect_layers(Layer* root, std::vector<Layer*>& out);

}  // namespace qt
