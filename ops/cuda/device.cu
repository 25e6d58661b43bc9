// The CUDA runtime basics: device discovery and one elementwise kernel, so that the CUDA build is exercised from
// the first issue on (and on a GPU machine, a kernel really runs). Every call is checked and names what failed.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "device.h"

namespace ds::cuda {
namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("[cuda] ") + what + " failed: " + cudaGetErrorString(err));
}

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
  check(cudaGetDeviceProperties(&prop, i), "cudaGetDeviceProperties");
  return prop.name;
}

void fill_on_device(float* host, int64_t n, float value) {
  float* dev = nullptr;
  check(cudaMalloc(&dev, static_cast<size_t>(n) * sizeof(float)), "cudaMalloc");
  const int threads = 256;
  const auto blocks = static_cast<unsigned>((n + threads - 1) / threads);
  fill_kernel<<<blocks, threads>>>(dev, n, value);
  cudaError_t launch = cudaGetLastError();
  cudaError_t copy = cudaMemcpy(host, dev, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dev);
  check(launch, "fill_kernel launch");
  check(copy, "cudaMemcpy device to host");
}

}  // namespace ds::cuda
