#pragma once
// GEMM for the CPU (internal): C (m x n) = A (m x k) @ B (k x n), or C += A @ B. Element (i, j) of a matrix X is
// X[i * rs + j * cs]: row-major, column-major, transposed and strided operands are all read in place.
#include <cstdint>

#include <ds/core/half.h>

namespace ds::cpu {

template <typename T>
struct MatRef {
  T* data;
  int64_t rs, cs;  // row and column strides, in elements
};

// `threads` > 1 lets the GEMM split its work over that many OpenMP threads (1: the caller parallelises).
void gemm(int64_t m, int64_t n, int64_t k, MatRef<const float> a, MatRef<const float> b, MatRef<float> c,
          bool accumulate, int threads);
void gemm(int64_t m, int64_t n, int64_t k, MatRef<const double> a, MatRef<const double> b, MatRef<double> c,
          bool accumulate, int threads);

// bfloat16 operands, float32 result, with vdpbf16ps (products of bf16 pairs summed in float32) on CPUs with
// AVX512_BF16: twice the float32 FMA throughput. gemm_bf16_available() says whether this CPU has it and DS_CPU_BF16
// is not 0; without it the matmul kernel widens bf16 operands to float32. set_gemm_bf16_enabled(false) forces that
// fallback (tests, benchmarks); it returns whether the bf16 path is now on.
bool gemm_bf16_available();
bool set_gemm_bf16_enabled(bool on);
void gemm_bf16(int64_t m, int64_t n, int64_t k, MatRef<const BFloat16> a, MatRef<const BFloat16> b, MatRef<float> c,
               bool accumulate, int threads);

// Eigen's GEMM on the same operands: the reference the benchmarks and tests compare ds's own kernel with.
void gemm_eigen(int64_t m, int64_t n, int64_t k, MatRef<const float> a, MatRef<const float> b, MatRef<float> c,
                bool accumulate);

}  // namespace ds::cpu
