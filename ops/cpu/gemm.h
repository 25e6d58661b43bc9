#pragma once
// GEMM for the CPU (internal): C (m x n) = A (m x k) @ B (k x n), or C += A @ B. Element (i, j) of a matrix X is
// X[i * rs + j * cs]: row-major, column-major, transposed and strided operands are all read in place.
#include <cstdint>

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

// Eigen's GEMM on the same operands: the reference the benchmarks and tests compare ds's own kernel with.
void gemm_eigen(int64_t m, int64_t n, int64_t k, MatRef<const float> a, MatRef<const float> b, MatRef<float> c,
                bool accumulate);

}  // namespace ds::cpu
