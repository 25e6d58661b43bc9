#pragma once
// Declarations of the CUDA kernels (internal), named after the op (STYLE.md rule 4): one for every primitive of kind
// Kernel; a row that names one (DS_CUDA_KERNEL, ops/detail/cuda_kernel.h) which ops/cuda does not define fails to
// link. Each takes the op's KernelCtx: inputs cast and outputs allocated on the device by the row's rule; it launches
// on the device's current stream and returns without waiting.
#include <ds/ops/op_def.h>

namespace ds::cuda {

#define DS_CUDA_DECL_Kernel(op) void op(const KernelCtx& ctx);
#define DS_CUDA_DECL_View(op)
#define DS_CUDA_DECL(op, kind) DS_CUDA_DECL_##kind(op)
DS_PRIMITIVES(DS_CUDA_DECL)
#undef DS_CUDA_DECL
#undef DS_CUDA_DECL_View
#undef DS_CUDA_DECL_Kernel

// Helpers for kernels that need their inputs in another layout (factory.cu; kernels never call front functions).
// dst = src (broadcast, any strides and dtypes), through the copy kernel.
void copy_into(const Tensor& src, const Tensor& dst);
// A contiguous copy of t on its device (t itself when it is contiguous).
Tensor contiguous_copy(const Tensor& t);

}  // namespace ds::cuda
