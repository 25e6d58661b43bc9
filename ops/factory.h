#pragma once
// Tensor factories. Random factories draw from the default generator (ds::manual_seed) or the one given; the values
// depend only on the seed and the order of draws, never on the number of threads.
#include <initializer_list>
#include <optional>
#include <vector>

#include <ds/core/rng.h>
#include <ds/ops/tensor.h>

namespace ds {

Tensor empty(IntArrayRef shape, TensorOptions opts = {});
Tensor full(IntArrayRef shape, Scalar value, TensorOptions opts = {});
Tensor zeros(IntArrayRef shape, TensorOptions opts = {});
Tensor ones(IntArrayRef shape, TensorOptions opts = {});
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);
// [start, end) in steps of `step`; dtype i64 when all three are integers and opts does not say otherwise.
Tensor arange(Scalar end, std::optional<TensorOptions> opts = {});
Tensor arange(Scalar start, Scalar end, Scalar step = 1, std::optional<TensorOptions> opts = {});
// `steps` values from start to end inclusive.
Tensor linspace(double start, double end, int64_t steps, TensorOptions opts = {});
// n x m identity (m defaults to n).
Tensor eye(int64_t n, std::optional<int64_t> m = {}, TensorOptions opts = {});
// Uniform in [0, 1), standard normal, and integers uniform in [low, high).
Tensor rand(IntArrayRef shape, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor randn(IntArrayRef shape, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, IntArrayRef shape, TensorOptions opts = {.dtype = kI64},
               Generator* gen = nullptr);
Tensor rand_like(const Tensor& t, Generator* gen = nullptr);
Tensor randn_like(const Tensor& t, Generator* gen = nullptr);

// Copies host values into a new tensor of `shape` (default: 1-d).
template <typename T>
Tensor from_vector(const std::vector<T>& values, IntArrayRef shape = {}, TensorOptions opts = {.dtype = dtype_v<T>});

// A nested braced list of numbers: ds::tensor({{1, 2}, {3, 4}}). Integers give int64, any floating value float32,
// booleans bool, unless opts names a dtype.
class NestedValues {
 public:
  NestedValues(double v) : is_scalar_(true), value_(v), kind_(Kind::Float) {}            // NOLINT
  NestedValues(float v) : is_scalar_(true), value_(v), kind_(Kind::Float) {}             // NOLINT
  NestedValues(int v) : is_scalar_(true), value_(v), kind_(Kind::Int) {}                 // NOLINT
  NestedValues(int64_t v) : is_scalar_(true), value_(static_cast<double>(v)), kind_(Kind::Int) {}  // NOLINT
  NestedValues(bool v) : is_scalar_(true), value_(v), kind_(Kind::Bool) {}               // NOLINT
  NestedValues(std::initializer_list<NestedValues> list) : children_(list) {}           // NOLINT

  enum class Kind { Bool, Int, Float };
  bool is_scalar() const { return is_scalar_; }
  double value() const { return value_; }
  Kind kind() const { return kind_; }
  const std::vector<NestedValues>& children() const { return children_; }

 private:
  bool is_scalar_ = false;
  double value_ = 0;
  Kind kind_ = Kind::Bool;
  std::vector<NestedValues> children_;
};
Tensor tensor(NestedValues values, std::optional<TensorOptions> opts = {});
// A 0-d tensor.
Tensor scalar_tensor(Scalar value, TensorOptions opts = {});

// Wraps memory owned by the caller (not copied, not freed); the caller keeps it alive and contiguous.
Tensor from_blob(void* data, IntArrayRef shape, DType dtype);

// Implementation of from_vector: copies count host values of dtype src into a tensor of `shape` (1-d when absent).
Tensor from_host_bytes(const void* data, size_t count, DType src, std::optional<IntArrayRef> shape, TensorOptions opts);
template <typename T>
Tensor from_vector(const std::vector<T>& values, IntArrayRef shape, TensorOptions opts) {
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> bytes(values.begin(), values.end());
    return from_host_bytes(bytes.data(), bytes.size(), kBool, shape.empty() ? std::nullopt : std::optional(shape), opts);
  } else {
    return from_host_bytes(values.data(), values.size(), dtype_v<T>,
                           shape.empty() ? std::nullopt : std::optional(shape), opts);
  }
}

}  // namespace ds
