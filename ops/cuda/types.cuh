#pragma once
// Element types of the CUDA kernels (internal): the device storage type of each DType (__half and __nv_bfloat16
// for the 16-bit floats, which hold the same bits as ds::Half and ds::BFloat16), the type each is computed in
// (float for the 16-bit floats, as on the CPU), conversions between them with the CPU kernels' semantics (to bool:
// != 0; 16-bit floats round through float), and dispatch over a tensor's dtype.
#include <cstdint>
#include <string>
#include <type_traits>

#include <ds/core/dtype.h>
#include <ds/core/error.h>

#include "check.h"
#include "prelude.cuh"

namespace ds::cuda {

template <typename S> struct compute_type { using type = S; };
template <> struct compute_type<__half> { using type = float; };
template <> struct compute_type<__nv_bfloat16> { using type = float; };
template <typename S> using compute_t = typename compute_type<S>::type;

template <typename T> inline constexpr bool is_half_v = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// Converts a value between storage and compute types: cvt<To>(from).
template <typename To, typename From>
__host__ __device__ __forceinline__ To cvt(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<From, __half>) {
    return cvt<To>(__half2float(v));
  } else if constexpr (std::is_same_v<From, __nv_bfloat16>) {
    return cvt<To>(__bfloat162float(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<To, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

template <typename S>
__device__ __forceinline__ compute_t<S> load(const S* p) { return cvt<compute_t<S>>(*p); }

// Calls f(S{}) with S the device storage type of dtype t. visit_float and visit_number refuse the dtypes they do not
// cover with "[op] has no CUDA kernel for dtype ..." (throw_no_dtype, check.h).

template <typename F>
void visit_all(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::f16: return f(__half{});
    case DType::bf16: return f(__nv_bfloat16{});
    case DType::i64: return f(int64_t{});
    case DType::i32: return f(int32_t{});
    case DType::i8: return f(int8_t{});
    case DType::u8: return f(uint8_t{});
    case DType::b8: return f(bool{});
  }
}
template <typename F>
void visit_number(DType t, std::string_view op, F&& f) {
  if (t == kBool) throw_no_dtype(op, t);
  visit_all(t, [&](auto tag) {
    if constexpr (!std::is_same_v<decltype(tag), bool>) f(tag);
  });
}
template <typename F>
void visit_float(DType t, std::string_view op, F&& f) {
  if (!is_floating(t)) throw_no_dtype(op, t);
  visit_all(t, [&](auto tag) {
    using S = decltype(tag);
    if constexpr (std::is_floating_point_v<S> || is_half_v<S>) f(tag);
  });
}

// min and max that compile the same for the host and the device.
template <typename T> __host__ __device__ __forceinline__ T dmin(T a, T b) { return b < a ? b : a; }
template <typename T> __host__ __device__ __forceinline__ T dmax(T a, T b) { return a < b ? b : a; }

}  // namespace ds::cuda
