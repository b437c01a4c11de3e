#pragma once
// A float32 tensor in NCHW order: either owning 64-byte aligned storage, or a view into
// someone else's (the parameter arenas hand out views).
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace qt {

using Shape = std::vector<int64_t>;

int64_t shape_size(const Shape& s);
std::string shape_str(const Shape& s);

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape);  // owning, zero-filled
  Tensor(std::initializer_list<int64_t> shape) : Tensor(Shape(shape)) {}
  static Tensor view(float* data, Shape shape);

  // Copying an owning tensor copies its data; copying a view copies the view.
  Tensor(const Tensor& o);
  Tensor& operator=(const Tensor& o);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  // Changes the shape, keeping the storage when it is large enough (no allocation in the
  // steady state of a training loop). Contents are unspecified afterwards. Views cannot grow.
  void resize(const Shape& shape);
  void zero();
  void fill(float v);
  void copy_from(const Tensor& o);  // same size required

  float* data() { return data_; }
  const float* data() const { return data_; }
  int64_t size() const { return size_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  bool empty() const { return size_ == 0; }
  bool is_view() const { return data_ != nullptr && !storage_; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }
  std::span<float> span() { return {data_, static_cast<size_t>(size_)}; }
  std::span<const float> span() const { return {data_, static_cast<size_t>(size_)}; }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float[], Free> storage_;
  int64_t capacity_ = 0;
  float* data_ = nullptr;
  int64_t size_ = 0;
  Shape shape_;
};

}  // namespace qt
