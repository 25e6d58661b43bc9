#include "check.h"

#include <string>

#include <ds/core/error.h>

namespace ds::cuda {

void throw_cuda_error(cudaError_t err, const char* call) {
  cudaGetLastError();  // reset the non-sticky error so that it is reported once, here
  throw_error("cuda", std::string(call) + " failed: " + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")");
}

}  // namespace ds::cuda
