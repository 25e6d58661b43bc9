// The CUDA runtime basics: device discovery and one elementwise kernel, so that the CUDA build is exercised from
// the first issue on (and on a GPU machine, a kernel really runs). Every call is checked and names what failed.
#include <cuda_runtime.h>

#include <string>

#include "check.h"
#include "device.h"

namespace ds::cuda {
namespace {

__global__ void fill_kernel(float* out, int64_t n, float value) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = value;
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::string device_name(int i) {
  cudaDeviceProp prop{};
  DS_CUDA_CHECK(cudaGetDeviceProperties(&prop, i));
  return prop.name;
}

void fill_on_device(float* host, int64_t n, float value) {
  float* dev = nullptr;
  DS_CUDA_CHECK(cudaMalloc(&dev, static_cast<size_t>(n) * sizeof(float)));
  const int threads = 256;
  const auto blocks = static_cast<unsigned>((n + threads - 1) / threads);
  fill_kernel<<<blocks, threads>>>(dev, n, value);
  cudaError_t launch = cudaGetLastError();
  cudaError_t copy = cudaMemcpy(host, dev, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dev);
  check(launch, "fill_kernel<<<...>>> launch");
  check(copy, "cudaMemcpy(host, dev, n * sizeof(float), cudaMemcpyDeviceToHost)");
}

}  // namespace ds::cuda
