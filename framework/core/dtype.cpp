#include "dtype.h"

#include <string>

#include "error.h"

namespace ds {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
    case DType::i64: return "int64";
    case DType::i32: return "int32";
    case DType::i8: return "int8";
    case DType::u8: return "uint8";
    case DType::b8: return "bool";
  }
  return "?";
}

DType dtype_from_name(std::string_view name) {
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto t = static_cast<DType>(i);
    if (name == dtype_name(t)) return t;
  }
#define DS_DTYPE_SHORT(n, type, size) if (name == #n) return DType::n;
  DS_DTYPES(DS_DTYPE_SHORT)
#undef DS_DTYPE_SHORT
  if (name == "float" ) return kF32;
  if (name == "double") return kF64;
  if (name == "half") return kF16;
  if (name == "long") return kI64;
  if (name == "int") return kI32;
  throw_error("dtype", "unknown dtype name '" + std::string(name) + "'");
}

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == kBool) return b;
  if (b == kBool) return a;
  const bool fa = is_floating(a), fb = is_floating(b);
  if (fa != fb) return fa ? a : b;  // integer with floating: the floating type
  if (fa) {                         // two different floating types
    if (a == kF64 || b == kF64) return kF64;
    return kF32;                    // f16+bf16, f16+f32, bf16+f32
  }
  if ((a == kU8 && b == kI8) || (a == kI8 && b == kU8)) return kI32;
  return itemsize(a) >= itemsize(b) ? a : b;
}

}  // namespace ds
