#pragma once
// cudasim's device side (internal): what nvcc gives kernel code and a host compiler does not (the built-in
// coordinates, barriers, warp intrinsics, atomics, fast-math intrinsics, shared memory), over the scheduler in
// scheduler.h. ops/cuda/prelude.cuh includes it in DS_CUDASIM builds only, where the .cu files are compiled as C++.
// Shared memory: a kernel's __shared__ variables become static thread_local ones, shared by the fibers of the
// running block (blocks run one at a time on a thread).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "scheduler.h"

#undef __shared__
#define __shared__ static thread_local
#define __launch_bounds__(...)
#define threadIdx (::ds::cudasim::tls_coords.thread_idx)
#define blockIdx (::ds::cudasim::tls_coords.block_idx)
#define blockDim (::ds::cudasim::tls_coords.block_dim)
#define gridDim (::ds::cudasim::tls_coords.grid_dim)
#ifndef warpSize
#define warpSize 32
#endif

inline void __syncthreads() { ds::cudasim::block_barrier(0); }
inline int __syncthreads_count(int p) { return ds::cudasim::block_barrier(p); }
inline int __syncthreads_or(int p) { return ds::cudasim::block_barrier(p) != 0; }
inline int __syncthreads_and(int p) {
  const dim3 b = blockDim;
  return ds::cudasim::block_barrier(p) == static_cast<int>(b.x * b.y * b.z);
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ds::cudasim::warp_collective(ds::cudasim::WarpOp::sync, mask, 0, 0);
}
inline void __threadfence() {}
inline void __threadfence_block() {}
[[noreturn]] inline void __trap() { ds::cudasim::trap("__trap()"); }

namespace ds::cudasim {
inline int lane_id() {
  const Coords& c = tls_coords;
  return static_cast<int>((c.thread_idx.x + c.block_dim.x * (c.thread_idx.y + c.block_dim.y * c.thread_idx.z)) % 32);
}
template <typename T>
T shuffle_from(unsigned mask, T v, int src) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "cudasim shuffles values of up to 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = warp_collective(WarpOp::shuffle, mask, bits, src);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
}  // namespace ds::cudasim

// CUDA's segment rules: lanes are grouped by `width`; a source outside the caller's segment (up, down, xor) leaves
// the caller's own value.
template <typename T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  const int lane = ds::cudasim::lane_id();
  return ds::cudasim::shuffle_from(mask, v, lane / width * width + (src % width + width) % width);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int lane = ds::cudasim::lane_id();
  const int src = lane ^ lane_mask;
  return ds::cudasim::shuffle_from(mask, v, src / width == lane / width ? src : lane);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = ds::cudasim::lane_id();
  const int src = lane + static_cast<int>(delta);
  return ds::cudasim::shuffle_from(mask, v, src / width == lane / width ? src : lane);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = ds::cudasim::lane_id();
  const int src = lane - static_cast<int>(delta);
  return ds::cudasim::shuffle_from(mask, v, src >= lane / width * width ? src : lane);
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  return static_cast<unsigned>(ds::cudasim::warp_collective(ds::cudasim::WarpOp::vote, mask, pred != 0, 0));
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) == mask; }
inline unsigned __activemask() { return ds::cudasim::live_lanes(); }

// Atomics: nothing runs concurrently in cudasim, so these are plain read-modify-writes returning the old value.
template <typename T>
inline T ds_sim_atomic_add(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
inline float atomicAdd(float* p, float v) { return ds_sim_atomic_add(p, v); }
inline double atomicAdd(double* p, double v) { return ds_sim_atomic_add(p, v); }
inline int atomicAdd(int* p, int v) { return ds_sim_atomic_add(p, v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return ds_sim_atomic_add(p, v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return ds_sim_atomic_add(p, v); }
inline __half atomicAdd(__half* p, __half v) {
  const __half old = *p;
  *p = __float2half_rn(__half2float(old) + __half2float(v));
  return old;
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* p, __nv_bfloat16 v) {
  const __nv_bfloat16 old = *p;
  *p = __float2bfloat16_rn(__bfloat162float(old) + __bfloat162float(v));
  return old;
}
template <typename T>
inline T atomicMax(T* p, T v) {
  const T old = *p;
  if (v > old) *p = v;
  return old;
}
template <typename T>
inline T atomicMin(T* p, T v) {
  const T old = *p;
  if (v < old) *p = v;
  return old;
}
template <typename T>
inline T atomicCAS(T* p, T compare, T v) {
  const T old = *p;
  if (old == compare) *p = v;
  return old;
}
template <typename T>
inline T atomicExch(T* p, T v) {
  const T old = *p;
  *p = v;
  return old;
}

// Intrinsics: the fast-math forms compute the precise function here (the GPU's are within a few ulp of it).
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; std::memcpy(&v, &f, 4); return v; }
inline float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned v; std::memcpy(&v, &f, 4); return v; }
inline long long __double_as_longlong(double d) { long long v; std::memcpy(&v, &d, 8); return v; }
inline double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, 8); return d; }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz(static_cast<unsigned>(v)); }
inline int __clzll(long long v) { return v == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(v)); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __ffsll(long long v) { return __builtin_ffsll(v); }
inline unsigned __brev(unsigned v) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((v >> i) & 1u) << (31 - i);
  return r;
}
inline unsigned __umulhi(unsigned a, unsigned b) { return static_cast<unsigned>((uint64_t{a} * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
template <typename T>
inline T __ldg(const T* p) { return *p; }
inline long long clock64() { return 0; }

// Dynamic shared memory: DS_DYNAMIC_SHARED(float, smem) declares `float* smem` over the launch's bytes.
#define DS_DYNAMIC_SHARED(type, name) type* name = static_cast<type*>(::ds::cudasim::dynamic_shared())
