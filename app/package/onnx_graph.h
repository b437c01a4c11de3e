#pragma once
// A small builder over ONNX's protobuf classes (Debian's libonnx-dev): nodes with unique output
// names, float and integer initializers, and the attributes qtrain's layers need. Only the ONNX
// writer includes it; the rest of qtrain never sees protobuf.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace qt {

class OnnxGraph {
 public:
  explicit OnnxGraph(onnx::GraphProto& graph) : g_(graph) {}

  // An initializer holding `values` of `shape` (float32); returns its name.
  std::string floats(const std::string& name, const std::vector<float>& values, const Shape& shape);
  std::string floats(const std::string& name, const Tensor& t) {
    return floats(name, std::vector<float>(t.data(), t.data() + t.size()), t.shape());
  }
  std::string scalar(const std::string& name, float v) { return floats(name, {v}, {}); }
  std::string int64s(const std::string& name, const std::vector<int64_t>& values);
  // int8 values of `shape` (DequantizeLinear's codes and zero points).
  std::string int8s(const std::string& name, const std::vector<int8_t>& values, const Shape& shape);

  // Appends a node `op` reading `inputs`; its one output is named after `name` (made unique).
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& name);
  static const std::string& output(const onnx::NodeProto& n) { return n.output(0); }

  static void attr(onnx::NodeProto& n, const std::string& key, int64_t v);
  static void attr(onnx::NodeProto& n, const std::string& key, float v);
  static void attr(onnx::NodeProto& n, const std::string& key, const std::vector<int64_t>& v);

 private:
  std::string unique(const std::string& name);
  onnx::TensorProto& initializer(const std::string& name, int type, const Shape& shape);
  onnx::GraphProto& g_;
  std::vector<std::string> used_;
};

}  // namespace qt
