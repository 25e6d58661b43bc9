#pragma once
// Scalar: a number passed to an op (add(x, 2.0), clamp(x, 0, 6)). Keeps whether it was an integer, a floating
// number or a bool, because PyTorch's promotion rules treat them differently (int tensor + 2.5 is float).
#include <cstdint>
#include <type_traits>

#include <ds/core/dtype.h>

namespace ds {

class Scalar {
 public:
  enum class Kind : uint8_t { Int, Float, Bool };
  Scalar() : kind_(Kind::Int), i_(0) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Scalar(T v) : kind_(Kind::Int), i_(static_cast<int64_t>(v)) {}  // NOLINT
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Scalar(T v) : kind_(Kind::Float), d_(static_cast<double>(v)) {}  // NOLINT
  Scalar(bool v) : kind_(Kind::Bool), i_(v ? 1 : 0) {}  // NOLINT
  Scalar(Half v) : kind_(Kind::Float), d_(static_cast<float>(v)) {}  // NOLINT
  Scalar(BFloat16 v) : kind_(Kind::Float), d_(static_cast<float>(v)) {}  // NOLINT

  Kind kind() const { return kind_; }
  bool is_floating() const { return kind_ == Kind::Float; }
  bool is_integral() const { return kind_ == Kind::Int; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  double to_double() const { return kind_ == Kind::Float ? d_ : static_cast<double>(i_); }
  int64_t to_int() const { return kind_ == Kind::Float ? static_cast<int64_t>(d_) : i_; }
  // The dtype a 0-d tensor holding this scalar gets: i64, f32 (PyTorch's default float) or bool.
  DType natural_dtype() const { return kind_ == Kind::Float ? kF32 : kind_ == Kind::Int ? kI64 : kBool; }

 private:
  Kind kind_;
  union {
    int64_t i_;
    double d_;
  };
};

}  // namespace ds
