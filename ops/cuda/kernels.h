#pragma once
// Declarations of the CUDA kernels (internal), one per primitive listed in DS_CUDA_KERNELS (cuda_table.cpp), named
// after the op (STYLE.md rule 4). Each takes the op's KernelCtx: inputs cast and outputs allocated on the device by
// the row's rule; it launches on the device's current stream and returns without waiting.
#include <ds/ops/op_def.h>

#include "kernel_list.h"

namespace ds::cuda {

#define DS_CUDA_DECL(op) void op(const KernelCtx& ctx);
DS_CUDA_KERNELS(DS_CUDA_DECL)
#undef DS_CUDA_DECL

// Helpers for kernels that need their inputs in another layout (factory.cu; kernels never call front functions).
// dst = src (broadcast, any strides and dtypes), through the copy kernel.
void copy_into(const Tensor& src, const Tensor& dst);
// A contiguous copy of t on its device (t itself when it is contiguous).
Tensor contiguous_copy(const Tensor& t);

}  // namespace ds::cuda
