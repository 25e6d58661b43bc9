// The CUDA runtime basics: device discovery. Every call is checked and names what failed.
#include "prelude.cuh"

#include <string>

#include "check.h"
#include "device.h"

namespace ds::cuda {

bool is_simulated() { return DS_CUDASIM != 0; }

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

}  // namespace ds::cuda
