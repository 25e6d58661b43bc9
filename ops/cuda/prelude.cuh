#pragma once
// Included first by every .cu file of the CUDA backend: the CUDA headers, and in a cudasim build (DS_CUDASIM=1, the
// .cu files compiled as C++ for libds_cudasim) the host emulation of what nvcc provides to device code.
// DS_DYNAMIC_SHARED(type, name) declares `type* name` over the launch's dynamic shared memory in both builds.
// .cu files do not include fmt (nvcc's C++20 front end rejects its constexpr code): their errors are built with
// std::string and ds::throw_error, or come from helpers in .cpp files.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#if DS_CUDASIM
#include "sim/device.h"
#else
#define DS_DYNAMIC_SHARED(type, name)                        \
  extern __shared__ __align__(16) unsigned char name##_raw_[]; \
  type* name = reinterpret_cast<type*>(name##_raw_)
#endif
