#pragma once
// The GEMMs behind matmul (internal): C = A @ B for a batch of row-major matrices, each operand with its own row and
// column strides and one batch stride (0 broadcasts). Two implementations take the same arguments:
//   gemm_cublaslt (cublaslt.cpp): cuBLASLt with a cached heuristic choice, TF32 when allowed, f16/bf16 with f32
//     accumulation; returns false for an operand layout cuBLASLt cannot read (no unit stride), so the caller copies
//     it or falls back;
//   gemm_simt (matmul.cu): ds's own tiled kernel for any strides and every float dtype; what cudasim runs and what
//     DS_CUDA_GEMM=simt selects on a GPU.
#include <cstdint>
#include <string_view>

#include <cuda_runtime.h>

#include <ds/core/dtype.h>

namespace ds::cuda {

struct GemmOperand {
  const void* data = nullptr;
  int64_t row_stride = 0, col_stride = 0, batch_stride = 0;  // in elements
};

struct GemmArgs {
  DType dtype = kF32;  // of A, B and C
  int64_t m = 0, n = 0, k = 0, batch = 1;
  GemmOperand a, b;  // (m, k) and (k, n)
  void* c = nullptr;  // (m, n), row stride n, batch stride m * n
  bool allow_tf32 = false;
  int device = 0;
  cudaStream_t stream = nullptr;
};

bool gemm_cublaslt(const GemmArgs& g, std::string_view op);
void gemm_simt(const GemmArgs& g, std::string_view op);

}  // namespace ds::cuda
