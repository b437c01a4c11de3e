#pragma once
// A model: a named network of layers, its parameter store, and the facts the rest of qtrain asks
// of it (which weights can be quantized, a printable summary). Models never know about
// quantization: algorithms act on the weights through the Param seam and on the activations
// through ModelOptions::make_activation.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/param.h"
#include "engine/kernels/workspace.h"
#include "engine/layers/layer.h"
#include "engine/layers/sequential.h"

namespace qt {

struct ModelOptions {
  // Input images (C, H, W): the models adapt their first layer and their flatten size to them.
  int64_t in_channels = 1, height = 28, width = 28;
  int classes = 10;
  // Iterative Training's BatchNorm on the logits, after the last linear layer. vgg5 and vgg9
  // always end with one, as their reference definitions do.
  bool logit_bn = false;
  // The activation of the reference definitions' ReLU sites: "relu" or "hardtanh" (the usual
  // companion of binary activations).
  std::string activation = "relu";
  // Builds the layer at every activation site (every ReLU of the reference definitions, the one
  // after each residual addition included). Unset: a ReLU or a Hardtanh after `activation`.
  // Algorithms that replace activations (BCGD's quantizer, sign activations) set it; the store
  // is the model's, for a layer that owns parameters (an α). `name` is the site's name ("act1",
  // "layer2.0.act2"): it stays the same whatever layer the factory returns.
  std::function<LayerPtr(ParamStore& store, const std::string& name)> make_activation;
  // CIFAR ResNets' shortcut where the shape changes: "A" = strided identity with zero-padded
  // channels (He et al. 2016 for CIFAR, and the code of all three reference papers), "B" = 1×1
  // convolution + BatchNorm (the projection shortcut; Iterative Training's code has it as an
  // option). resnet18 always uses B, as torchvision does.
  std::string shortcut = "A";
};

// One tensor a forward pass reads besides its input: a parameter (conv and linear weight and bias,
// BatchNorm γ and β, an activation quantizer's α) or a buffer (BatchNorm running statistics).
struct ModelTensor {
  std::string name;  // "param/conv1.weight", "buffer/bn1.running_mean": as checkpoints name it
  Param* param = nullptr;  // exactly one of the two is set
  Buffer* buffer = nullptr;

  const Shape& shape() const { return param ? param->shape : buffer->value.shape(); }
  // What the network evaluates after the algorithm's begin_eval(): a parameter's `used` (Q(w),
  // u, α·sign(C·P) ...; the value itself where no policy substitutes), a buffer's value.
  const Tensor& evaluated() const { return param ? param->used : buffer->value; }
  // Makes `t` the tensor's value for every reader: the master value, and a parameter's `used`
  // aliasing it again (layers read one or the other; after this both hold `t`).
  void set(const Tensor& t) const;
};

// One row of Model::trace: a layer, its depth in the tree (root = 0) and its shapes.
struct LayerTrace {
  Layer* layer;
  int depth;
  Shape in, out;
};

class Model {
 public:
  std::string name;
  ModelOptions options;
  ParamStore params;
  std::unique_ptr<Sequential> net;

  // Returns the logits (N × classes), kept (with a reference to x) for backward: x must stay
  // alive and unchanged until backward.
  Tensor& forward(const Tensor& x, const Context& ctx);
  // Writes the gradient of every parameter (no dL/dx for the input) for the last forward.
  void backward(const Tensor& dlogits);
  // PyTorch's default initialisation (layers' init) from one generator seeded by `seed`;
  // BatchNorm running statistics are reset too.
  void init(uint64_t seed);
  // Every layer, depth first, parents before children; the first is `net` itself.
  std::vector<Layer*> layers();
  // Every parameter and buffer of the network, each once: the complete state of an evaluation.
  std::vector<ModelTensor> tensors();
  // The Weight parameters of the conv and linear layers, in forward order.
  std::vector<Param*> quantizable();
  Layer* find_layer(const std::string& layer_name);  // nullptr when absent
  // Every layer with its input and output shapes for a batch of `batch` images.
  std::vector<LayerTrace> trace(int64_t batch = 1);
  // Multiply-accumulates of one forward pass per image, in conv and linear layers.
  int64_t macs_per_image();
  // A table: layer, description, output shape (per image), parameters; then the totals.
  std::string summary();
  Shape input_shape(int64_t batch) const {
    return {batch, options.in_channels, options.height, options.width};
  }

 private:
  Tensor logits_;
  Workspace workspace_;  // the kernels' scratch, handed to the layers in forward's Context
  const Tensor* input_ = nullptr;
};

// Builds, finalizes and initialises (seed 0) a model. Throws qt::UsageError on an unknown name
// (listing the valid ones), on invalid options, or on an input size the model cannot take.
std::unique_ptr<Model> make_model(const std::string& name, const ModelOptions& options);
std::vector<std::string> model_names();
// The input each model was made for: 1×28×28 (Fashion-MNIST) for mlp and lenet5, 3×32×32
// (CIFAR-10) for the VGGs and CIFAR ResNets, 3×224×224 with 1000 classes for resnet18.
ModelOptions natural_options(const std::string& name);

}  // namespace qt
