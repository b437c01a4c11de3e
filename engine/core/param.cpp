#include "engine/core/param.h"

#include <stdexcept>

namespace qt {

Tensor& Param::substitute() {
  if (substitute_.size() != value.size()) substitute_ = Tensor(shape);
  used = Tensor::view(substitute_.data(), shape);
  return used;
}

void Param::restore() {
  used = Tensor::view(value.data(), shape);
}

Param* ParamStore::add(const std::string& layer, const std::string& name, Shape shape,
                       ParamRole role, int64_t fan_in) {
  if (finalized_) throw std::logic_error("ParamStore::add after finalize: " + layer + "." + name);
  Param& p = params_.emplace_back();
  p.layer = layer;
  p.name = layer.empty() ? name : layer + "." + name;
  p.shape = std::move(shape);
  p.role = role;
  p.fan_in = fan_in;
  return &p;
}

Buffer* ParamStore::add_buffer(const std::string& layer, const std::string& name, Shape shape) {
  if (finalized_) throw std::logic_error("ParamStore::add_buffer after finalize: " + name);
  Buffer& b = buffers_.emplace_back();
  b.name = layer.empty() ? name : layer + "." + name;
  b.value = Tensor::view(nullptr, std::move(shape));
  return &b;
}

void ParamStore::finalize() {
  if (finalized_) return;
  // Each tensor starts on a 16-float boundary so that every view is 64-byte aligned.
  auto padded = [](int64_t n) { return (n + 15) / 16 * 16; };
  int64_t total = 0, btotal = 0;
  for (auto& p : params_) total += padded(shape_size(p.shape));
  for (auto& b : buffers_) btotal += padded(b.value.size());
  values_ = Tensor({total});
  grads_ = Tensor({total});
  buffer_values_ = Tensor({btotal});
  int64_t off = 0;
  for (auto& p : params_) {
    p.value = Tensor::view(values_.data() + off, p.shape);
    p.grad = Tensor::view(grads_.data() + off, p.shape);
    p.used = Tensor::view(values_.data() + off, p.shape);
    off += padded(shape_size(p.shape));
  }
  off = 0;
  for (auto& b : buffers_) {
    b.value = Tensor::view(buffer_values_.data() + off, b.value.shape());
    off += padded(b.value.size());
  }
  finalized_ = true;
}

std::vector<Param*> ParamStore::params() {
  std::vector<Param*> r;
  for (auto& p : params_) r.push_back(&p);
  return r;
}

std::vector<Buffer*> ParamStore::buffers() {
  std::vector<Buffer*> r;
  for (auto& b : buffers_) r.push_back(&b);
  return r;
}

Param* ParamStore::find(const std::string& name) {
  for (auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

int64_t ParamStore::count() const {
  int64_t n = 0;
  for (auto& p : params_) n += shape_size(p.shape);
  return n;
}

}  // namespace qt
