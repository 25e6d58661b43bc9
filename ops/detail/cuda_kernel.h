#pragma once
// DS_CUDA_KERNEL(op): the CUDA kernel a row names (`.cuda = DS_CUDA_KERNEL(sum)`): ds::cuda::op where the CUDA backend
// is built (the GPU build links ops/cuda's kernels, libds_cudasim the same sources compiled for cudasim), null in a
// CPU-only build. A row naming a kernel that ops/cuda does not define fails to link.
#if DS_HAVE_CUDA
#include "../cuda/kernels.h"
#define DS_CUDA_KERNEL(op) (&::ds::cuda::op)
#else
#define DS_CUDA_KERNEL(op) nullptr
#endif
