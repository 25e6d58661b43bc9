#pragma once
// DS_CUDA_CHECK(call): runs a CUDA runtime call and throws ds::Error "[cuda] <call> failed: <CUDA's message>
// (<error name>)" when it does not return cudaSuccess. Internal to the CUDA backend (it includes cuda_runtime.h);
// every runtime call in ds goes through it, every kernel launch through ds::cuda::launch (launch.cuh).
#include <string_view>

#include <cuda_runtime.h>

#include <ds/core/dtype.h>

namespace ds::cuda {

// Throws the ds::Error for `err` returned by the call spelled `call`; clears CUDA's last-error state first so that
// a later, unrelated check does not report this error again.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call);

// Throws "[op] kernel launch failed: <CUDA's message>: <detail>; grid (...), block (...), n bytes of dynamic shared
// memory" (ds::cuda::launch, launch.cuh).
[[noreturn]] void throw_launch_error(std::string_view op, cudaError_t err, const char* detail, dim3 grid, dim3 block,
                                     size_t smem);
// Throws "[op] has no CUDA kernel for dtype <t>".
[[noreturn]] void throw_no_dtype(std::string_view op, DType t);
// Whether DS_CUDA_LAUNCH_BLOCKING is set: every launch then waits for its kernel.
bool launch_blocking();

inline void check(cudaError_t err, const char* call) {
  if (err != cudaSuccess)
    throw_cuda_error(err, call);
}

}  // namespace ds::cuda

#define DS_CUDA_CHECK(call) ::ds::cuda::check((call), #call)
