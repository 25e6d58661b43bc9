#pragma once
// The CUDA runtime facts the rest of ds asks for (internal). Compiled only when the CUDA backend is built.
#include <cstdint>
#include <string>

namespace ds::cuda {

// Number of usable GPUs; 0 when there is no driver or no device.
int device_count();
// "NVIDIA H100 80GB HBM3" for device i.
std::string device_name(int i);
// Whether this is the cudasim build of the backend (DS_CUDASIM).
bool is_simulated();
// Waits for all work queued on device i (cudaDeviceSynchronize).
void synchronize(int device);

}  // namespace ds::cuda
