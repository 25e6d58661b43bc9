#pragma once
// Shapes and strides (in elements), kept inline for up to 6 dimensions, and the helpers every op rule uses.
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "small_vector.h"

namespace ds {

using Shape = SmallVec<int64_t, 6>;

// A non-owning view of a list of integers: accepts {2, 3}, a Shape, a std::vector or a single integer. Like
// std::span, but constructible from a braced list (which must outlive the call, as it does for an argument).
class IntArrayRef {
 public:
  constexpr IntArrayRef() = default;
  constexpr IntArrayRef(const int64_t& one) : data_(&one), size_(1) {}  // NOLINT
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"  // by design: the list lives as long as the call's argument
  constexpr IntArrayRef(std::initializer_list<int64_t> il) : data_(il.begin()), size_(il.size()) {}  // NOLINT
#pragma GCC diagnostic pop
  IntArrayRef(const Shape& s) : data_(s.data()), size_(s.size()) {}  // NOLINT
  IntArrayRef(const std::vector<int64_t>& v) : data_(v.data()), size_(v.size()) {}  // NOLINT
  constexpr IntArrayRef(const int64_t* p, size_t n) : data_(p), size_(n) {}
  constexpr IntArrayRef(std::span<const int64_t> s) : data_(s.data()), size_(s.size()) {}  // NOLINT

  constexpr const int64_t* begin() const { return data_; }
  constexpr const int64_t* end() const { return data_ + size_; }
  constexpr const int64_t* data() const { return data_; }
  constexpr size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr int64_t operator[](size_t i) const { return data_[i]; }
  constexpr int64_t front() const { return data_[0]; }
  constexpr int64_t back() const { return data_[size_ - 1]; }
  Shape vec() const { return Shape(begin(), end()); }
  friend bool operator==(IntArrayRef a, IntArrayRef b) {
    if (a.size_ != b.size_) return false;
    for (size_t i = 0; i < a.size_; ++i) if (a[i] != b[i]) return false;
    return true;
  }

 private:
  const int64_t* data_ = nullptr;
  size_t size_ = 0;
};

int64_t numel_of(IntArrayRef shape);
// Row-major strides of a contiguous tensor of this shape.
Shape contiguous_strides(IntArrayRef shape);
bool is_contiguous_layout(IntArrayRef shape, IntArrayRef strides);
// "[2, 3]"
std::string shape_str(IntArrayRef shape);
// Wraps a possibly negative dim into [0, ndim); throws "[op] dim d out of range for a tensor of ndim n".
int64_t wrap_dim(int64_t dim, int64_t ndim, std::string_view op);
// NumPy/PyTorch broadcasting of two shapes; throws "[op] shapes [..] and [..] cannot be broadcast" on mismatch.
Shape broadcast_shapes(IntArrayRef a, IntArrayRef b, std::string_view op);

}  // namespace ds
