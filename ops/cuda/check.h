#pragma once
// DS_CUDA_CHECK(call): runs a CUDA runtime call and throws ds::Error "[cuda] <call> failed: <CUDA's message>
// (<error name>)" when it does not return cudaSuccess. Internal to the CUDA backend (it includes cuda_runtime.h);
// every runtime call in ds goes through it, kernel launches through DS_CUDA_CHECK(cudaGetLastError()).
#include <cuda_runtime.h>

namespace ds::cuda {

// Throws the ds::Error for `err` returned by the call spelled `call`; clears CUDA's last-error state first so that
// a later, unrelated check does not report this error again.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call);

inline void check(cudaError_t err, const char* call) {
  if (err != cudaSuccess)
    throw_cuda_error(err, call);
}

}  // namespace ds::cuda

#define DS_CUDA_CHECK(call) ::ds::cuda::check((call), #call)
