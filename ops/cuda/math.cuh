#pragma once
// Math functions for the kernels' compute types (internal): float and double overloads that call CUDA's (or, in a
// cudasim build, the C library's) functions of the same name, and the identity for integers where rounding asks.
#include <cmath>
#include <type_traits>

#include "prelude.cuh"

namespace ds::cuda::m {

#define DS_CUDA_MATH1(name)                                                          \
  __host__ __device__ __forceinline__ float name(float x) { return ::name##f(x); }   \
  __host__ __device__ __forceinline__ double name(double x) { return ::name(x); }
DS_CUDA_MATH1(exp)
DS_CUDA_MATH1(log)
DS_CUDA_MATH1(log1p)
DS_CUDA_MATH1(expm1)
DS_CUDA_MATH1(sqrt)
DS_CUDA_MATH1(sin)
DS_CUDA_MATH1(cos)
DS_CUDA_MATH1(tanh)
DS_CUDA_MATH1(erf)
#undef DS_CUDA_MATH1

__host__ __device__ __forceinline__ float pow(float a, float b) { return ::powf(a, b); }
__host__ __device__ __forceinline__ double pow(double a, double b) { return ::pow(a, b); }

// Rounding and abs: integers are already whole.
template <typename C>
__host__ __device__ __forceinline__ C floor(C x) {
  if constexpr (std::is_same_v<C, float>) return ::floorf(x);
  else if constexpr (std::is_same_v<C, double>) return ::floor(x);
  else return x;
}
template <typename C>
__host__ __device__ __forceinline__ C ceil(C x) {
  if constexpr (std::is_same_v<C, float>) return ::ceilf(x);
  else if constexpr (std::is_same_v<C, double>) return ::ceil(x);
  else return x;
}
template <typename C>
__host__ __device__ __forceinline__ C rint(C x) {
  if constexpr (std::is_same_v<C, float>) return ::rintf(x);
  else if constexpr (std::is_same_v<C, double>) return ::rint(x);
  else return x;
}
template <typename C>
__host__ __device__ __forceinline__ C abs(C x) {
  if constexpr (std::is_same_v<C, float>) return ::fabsf(x);
  else if constexpr (std::is_same_v<C, double>) return ::fabs(x);
  else if constexpr (std::is_signed_v<C>) return static_cast<C>(x < 0 ? -x : x);
  else return x;
}

}  // namespace ds::cuda::m
