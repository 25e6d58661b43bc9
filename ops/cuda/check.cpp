#include "check.h"

#include <cstdlib>
#include <string>

#include <ds/core/detail/check.h>
#include <ds/core/error.h>

namespace ds::cuda {

void throw_cuda_error(cudaError_t err, const char* call) {
  cudaGetLastError();  // reset the non-sticky error so that it is reported once, here
  throw_error("cuda", std::string(call) + " failed: " + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")");
}

void throw_launch_error(std::string_view op, cudaError_t err, const char* detail, dim3 grid, dim3 block, size_t smem) {
  cudaGetLastError();
  DS_FAIL(op, "kernel launch failed: {} ({}){}{}; grid ({}, {}, {}), block ({}, {}, {}), {} bytes of dynamic shared "
          "memory", cudaGetErrorString(err), cudaGetErrorName(err), detail && *detail ? ": " : "",
          detail ? detail : "", grid.x, grid.y, grid.z, block.x, block.y, block.z, smem);
}

void throw_no_dtype(std::string_view op, DType t) {
  DS_FAIL(op, "has no CUDA kernel for dtype {}", dtype_name(t));
}

bool launch_blocking() {
  static const bool on = [] {
    const char* e = std::getenv("DS_CUDA_LAUNCH_BLOCKING");
    return e && *e && *e != '0';
  }();
  return on;
}

}  // namespace ds::cuda
