#pragma once
// Which accelerators this build of ds can use.
#include <string>

namespace ds {

// Whether ds was built with its CUDA backend.
bool cuda_built();
// Number of GPUs the CUDA backend sees (0 when not built, or no driver or device).
int cuda_device_count();
inline bool cuda_is_available() { return cuda_device_count() > 0; }
// The GPU's name ("NVIDIA H200"); "ds cudasim ..." in libds_cudasim, whose CUDA backend runs on the CPU.
std::string cuda_device_name(int device = 0);
// Whether this library's CUDA backend is cudasim (the CPU emulation the cudasim tests run on).
bool cuda_is_simulated();
// Whether f32 matmuls on CUDA may run on TF32 tensor cores (inputs rounded to 10 mantissa bits, f32 accumulation,
// ~1e-3 relative error): off by default, as torch.backends.cuda.matmul.allow_tf32. Process-wide.
void cuda_set_allow_tf32(bool allow);
bool cuda_allow_tf32();
// Waits until all work queued on GPU `device` has finished; throws ds::Error where there is no such GPU.
void cuda_synchronize(int device = 0);

}  // namespace ds
