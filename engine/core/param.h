#pragma once
// Parameters and the weight seam.
//
// Every parameter has a float master `value` (what the optimizer updates), its `grad`, and a
// `used` tensor that forward and backward read. By default `used` is a view of `value`; a
// quantization policy calls substitute() and writes Q(w), u or sign(w) into `used`. Layers read
// `used` and write `grad`, so no layer knows which algorithm runs.
//
// All values live in one contiguous arena and all gradients in another (named views into them),
// so the optimizer, the checkpoint and the quantizers each loop over one list.
#include <deque>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace qt {

enum class ParamRole {
  Weight,  // conv / linear weight: what quantizers act on
  Bias,
  Norm,   // BatchNorm scale and shift
  Scale,  // an activation quantizer's resolution α
};

struct Param {
  std::string name;   // "conv1.weight"
  std::string layer;  // "conv1": the layer that owns it
  ParamRole role = ParamRole::Weight;
  Shape shape;
  int64_t fan_in = 0;     // inputs per output unit, for initialisation
  bool decay = true;      // false: never decayed (ProxyBNN's P); BatchNorm's follow decay_norm
  bool trainable = true;  // false: the optimizer leaves it alone (e.g. a frozen α)
  float lr_scale = 1.0f;  // multiplies the learning rate (ProxyBNN's P)
  Tensor value;           // float master, view into the value arena
  Tensor grad;            // view into the gradient arena
  Tensor used;            // what forward/backward read: `value` itself or the substitute

  bool substituted() const { return used.data() != value.data(); }
  // Gives `used` storage of its own (allocated once) and returns it for the policy to fill.
  Tensor& substitute();
  // `used` aliases `value` again.
  void restore();

 private:
  Tensor substitute_;
};

// A non-trainable state tensor (BatchNorm running statistics).
struct Buffer {
  std::string name;
  Tensor value;
};

class ParamStore {
 public:
  // Declares a parameter; its tensors exist after finalize(). Returned pointers stay valid.
  Param* add(const std::string& layer, const std::string& name, Shape shape, ParamRole role,
             int64_t fan_in = 0);
  Buffer* add_buffer(const std::string& layer, const std::string& name, Shape shape);
  // Allocates the arenas and binds every view. Called once, after all layers are built.
  void finalize();
  bool finalized() const { return finalized_; }

  std::vector<Param*> params();
  std::vector<Buffer*> buffers();
  Param* find(const std::string& name);
  int64_t count() const;  // number of parameter scalars
  Tensor& values() { return values_; }
  Tensor& grads() { return grads_; }
  void zero_grad() { grads_.zero(); }

 private:
  std::deque<Param> params_;
  std::deque<Buffer> buffers_;
  Tensor values_, grads_, buffer_values_;
  bool finalized_ = false;
};

}  // namespace qt
