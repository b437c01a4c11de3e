#include "app/package/onnx_graph.h"

#include <algorithm>

namespace qt {

std::string OnnxGraph::unique(const std::string& name) {
  // Names are few (a node per layer and step): a linear scan is enough.
  std::string n = name;
  for (int k = 1; std::find(used_.begin(), used_.end(), n) != used_.end(); ++k)
    n = name + "_" + std::to_string(k);
  used_.push_back(n);
  return n;
}

onnx::TensorProto& OnnxGraph::initializer(const std::string& name, int type, const Shape& shape) {
  onnx::TensorProto& t = *g_.add_initializer();
  t.set_name(unique(name));
  t.set_data_type(type);
  for (int64_t d : shape) t.add_dims(d);
  return t;
}

std::string OnnxGraph::floats(const std::string& name, const std::vector<float>& values,
                              const Shape& shape) {
  onnx::TensorProto& t = initializer(name, onnx::TensorProto::FLOAT, shape);
  // raw_data is little-endian by the ONNX specification, as qtrain's floats are in memory.
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  return t.name();
}

std::string OnnxGraph::int64s(const std::string& name, const std::vector<int64_t>& values) {
  onnx::TensorProto& t =
      initializer(name, onnx::TensorProto::INT64, {static_cast<int64_t>(values.size())});
  for (int64_t v : values) t.add_int64_data(v);
  return t.name();
}

std::string OnnxGraph::int8s(const std::string& name, const std::vector<int8_t>& values,
                             const Shape& shape) {
  onnx::TensorProto& t = initializer(name, onnx::TensorProto::INT8, shape);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size()));
  return t.name();
}

onnx::NodeProto& OnnxGraph::node(const std::string& op, const std::vector<std::string>& inputs,
                                 const std::string& name) {
  onnx::NodeProto& n = *g_.add_node();
  n.set_op_type(op);
  const std::string out = unique(name);
  n.set_name(out);
  for (const std::string& in : inputs) n.add_input(in);
  n.add_output(out);
  return n;
}

void OnnxGraph::attr(onnx::NodeProto& n, const std::string& key, int64_t v) {
  onnx::AttributeProto& a = *n.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(v);
}

void OnnxGraph::attr(onnx::NodeProto& n, const std::string& key, float v) {
  onnx::AttributeProto& a = *n.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(v);
}

void OnnxGraph::attr(onnx::NodeProto& n, const std::string& key, const std::vector<int64_t>& v) {
  onnx::AttributeProto& a = *n.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a.add_ints(x);
}

}  // namespace qt
