#pragma once
// DType: the element types of a tensor, and PyTorch's type promotion rules over them.
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "half.h"

namespace ds {

// X(name, C++ type, size)
#define DS_DTYPES(X)       \
  X(f32, float, 4)         \
  X(f64, double, 8)        \
  X(f16, ::ds::Half, 2)    \
  X(bf16, ::ds::BFloat16, 2) \
  X(i64, int64_t, 8)       \
  X(i32, int32_t, 4)       \
  X(i8, int8_t, 1)         \
  X(u8, uint8_t, 1)        \
  X(b8, bool, 1)

enum class DType : uint8_t {
#define DS_DTYPE_ENUM(name, type, size) name,
  DS_DTYPES(DS_DTYPE_ENUM)
#undef DS_DTYPE_ENUM
};
inline constexpr int kNumDTypes = 9;
// bool is spelled kBool in user code; the enum value is b8 so that every dtype name is a valid identifier.
inline constexpr DType kF32 = DType::f32, kF64 = DType::f64, kF16 = DType::f16, kBF16 = DType::bf16,
                       kI64 = DType::i64, kI32 = DType::i32, kI8 = DType::i8, kU8 = DType::u8, kBool = DType::b8;

constexpr size_t itemsize(DType t) {
  switch (t) {
#define DS_DTYPE_SIZE(name, type, size) case DType::name: return size;
    DS_DTYPES(DS_DTYPE_SIZE)
#undef DS_DTYPE_SIZE
  }
  return 0;
}

// PyTorch's names: "float32", "int64", "bool", ...
std::string_view dtype_name(DType t);
// Parses either spelling ("f32" or "float32"); throws ds::Error on an unknown name.
DType dtype_from_name(std::string_view name);

constexpr bool is_floating(DType t) { return t == kF32 || t == kF64 || t == kF16 || t == kBF16; }
constexpr bool is_integral(DType t, bool include_bool = false) {
  return t == kI64 || t == kI32 || t == kI8 || t == kU8 || (include_bool && t == kBool);
}
constexpr bool is_reduced_float(DType t) { return t == kF16 || t == kBF16; }

// The type two tensors of these dtypes promote to (torch.promote_types). u8 with i8 gives i32 here: PyTorch gives
// int16, which ds does not have.
DType promote_types(DType a, DType b);

// Whether a value of dtype `from` may be stored into a tensor of dtype `to` by an in-place op (torch.can_cast):
// not floating into integral, not a number into bool.
constexpr bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  if (from != kBool && to == kBool) return false;
  return true;
}

// C++ type -> DType.
template <typename T> struct dtype_of;
#define DS_DTYPE_OF(name, type, size) \
  template <> struct dtype_of<type> { static constexpr DType value = DType::name; };
DS_DTYPES(DS_DTYPE_OF)
#undef DS_DTYPE_OF
template <typename T> inline constexpr DType dtype_v = dtype_of<T>::value;

// A set of dtypes (what an op claims to support).
class DTypeSet {
 public:
  constexpr DTypeSet() = default;
  constexpr DTypeSet(std::initializer_list<DType> ts) { for (DType t : ts) bits_ |= bit(t); }
  constexpr bool has(DType t) const { return bits_ & bit(t); }
  constexpr DTypeSet operator|(DTypeSet o) const { DTypeSet s; s.bits_ = bits_ | o.bits_; return s; }
  constexpr bool empty() const { return bits_ == 0; }
 private:
  static constexpr uint32_t bit(DType t) { return 1u << static_cast<int>(t); }
  uint32_t bits_ = 0;
};
inline constexpr DTypeSet kFloatTypes{kF32, kF64, kF16, kBF16};
inline constexpr DTypeSet kIntTypes{kI64, kI32, kI8, kU8};
inline constexpr DTypeSet kAllTypes = kFloatTypes | kIntTypes | DTypeSet{kBool};

// Calls f(T{}) with T the C++ type of dtype t; f is a generic lambda taking the type as a tag value.
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
#define DS_VISIT_CASE(name, type, size) case DType::name: return f(type{});
    DS_DTYPES(DS_VISIT_CASE)
#undef DS_VISIT_CASE
  }
  __builtin_unreachable();
}

}  // namespace ds
