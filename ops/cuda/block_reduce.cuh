#pragma once
// Warp and block reductions for the row kernels (layer_norm, cross-entropy): a block of kRowThreads threads owns
// one row, and block_reduce gives every thread the row's combined value. The combination order is fixed (butterfly
// within warps, then warps in order), so results are deterministic.
#include "prelude.cuh"

namespace ds::cuda {

inline constexpr int kRowThreads = 256;

struct SumOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {  // NaN wins, as in amax
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return b > a || b != b ? b : a; }
};

template <typename T, typename Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
  for (int mask = 16; mask > 0; mask >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, mask));
  return v;
}

// scratch: kRowThreads / 32 values in shared memory; free again when this returns.
template <typename T, typename Op>
__device__ __forceinline__ T block_reduce(T v, T* scratch, Op op) {
  v = warp_reduce(v, op);
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  T total = scratch[0];
  for (int i = 1; i < kRowThreads / 32; ++i) total = op(total, scratch[i]);
  __syncthreads();
  return total;
}

}  // namespace ds::cuda
