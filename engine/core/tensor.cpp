#include "engine/core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace qt {

int64_t shape_size(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw std::invalid_argument("negative dimension in shape " + shape_str(s));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

void Tensor::Free::operator()(float* p) const {
  std::free(p);
}

static float* aligned_floats(int64_t n) {
  // 64 bytes: one cache line and one AVX-512 register.
  size_t bytes = (static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}

Tensor::Tensor(Shape shape) : size_(shape_size(shape)), shape_(std::move(shape)) {
  storage_.reset(aligned_floats(size_));
  capacity_ = size_;
  data_ = storage_.get();
  zero();
}

Tensor Tensor::view(float* data, Shape shape) {
  Tensor t;
  t.size_ = shape_size(shape);
  t.shape_ = std::move(shape);
  t.data_ = data;
  return t;
}

Tensor::Tensor(const Tensor& o) {
  *this = o;
}

Tensor& Tensor::operator=(const Tensor& o) {
  if (this == &o) return *this;
  if (o.storage_) {
    if (!storage_ || capacity_ < o.size_) {
      storage_.reset(aligned_floats(o.size_));
      capacity_ = o.size_;
    }
    data_ = storage_.get();
    if (o.size_) std::memcpy(data_, o.data_, o.size_ * sizeof(float));
  } else {
    storage_.reset();
    capacity_ = 0;
    data_ = o.data_;
  }
  size_ = o.size_;
  shape_ = o.shape_;
  return *this;
}

void Tensor::resize(const Shape& shape) {
  int64_t n = shape_size(shape);
  if (is_view()) {
    if (n > size_) throw std::logic_error("cannot grow a tensor view to " + shape_str(shape));
  } else if (!storage_ || capacity_ < n) {
    storage_.reset(aligned_floats(n));
    capacity_ = n;
    data_ = storage_.get();
  }
  size_ = n;
  shape_ = shape;
}

void Tensor::zero() {
  if (size_) std::memset(data_, 0, size_ * sizeof(float));
}

void Tensor::fill(float v) {
  std::fill(data_, data_ + size_, v);
}

void Tensor::copy_from(const Tensor& o) {
  if (o.size_ != size_)
    throw std::logic_error("copy_from: size " + shape_str(o.shape_) + " into " + shape_str(shape_));
  if (size_) std::memmove(data_, o.data_, size_ * sizeof(float));
}

}  // namespace qt
