#pragma once
// `qtrain export RUN --format onnx`: the evaluated network as a standard ONNX model (opset 13,
// standard operators only), for ONNX Runtime and the other tools that read ONNX.
//
// The graph's input "image" is the image as the dataset holds it, as floats in [0, 1] (pixel /
// 255), N × C × H × W with a free batch dimension; its first nodes are qtrain's normalisation
// (x − mean) / std, so a user feeds images directly. Its output "logits" is N × classes.
// Layers map one to one: Conv, Gemm, BatchNormalization, Relu, Clip (Hardtanh), MaxPool,
// AveragePool, GlobalAveragePool, Flatten, Add (residual), Slice + Pad (the zero-padded identity
// shortcut); a binary activation sign(x) with sign(0) = +1 is Sign(Sign(x) + 0.5) (ONNX's Sign
// gives 0 at 0), BCGD's quantizer α·clip(⌈x/α⌉, 0, L) is Div, Ceil, Clip, Mul.
// Every tensor holds the network as qtrain evaluates it (the package's values): a quantized
// weight whose values are integer multiples of one scale per tensor or per output channel
// (binary, ternary, b-bit sets) is stored as int8 codes with a DequantizeLinear, which gives back
// exactly its values; any other tensor as float32.
#include <nlohmann/json.hpp>
#include <string>

namespace qt {

// Writes the ONNX model of a checkpoint (or a run directory's last checkpoint) to `out_path`;
// returns a summary: bytes, nodes, weights stored as int8 codes and as float32. Throws
// UsageError when this qtrain was built without ONNX support (Debian's libonnx-dev).
nlohmann::json export_onnx(const std::string& checkpoint, const std::string& out_path);

}  // namespace qt
