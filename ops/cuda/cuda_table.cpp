// The CUDA kernel table, indexed by OpId. Every primitive has an explicit entry: its kernel when DS_CUDA_KERNELS
// (kernel_list.h) lists it, or one that throws "[op] has no CUDA kernel" (STYLE.md rule 5).
#include <array>

#include <ds/core/detail/check.h>
#include <ds/ops/dispatch.h>

#if DS_HAVE_CUDA
#include "kernels.h"
#else
#define DS_CUDA_KERNELS(X)
#endif

namespace ds {

namespace {

template <OpId op>
void no_cuda_kernel(const KernelCtx& c) {
  DS_FAIL(c.name, "has no CUDA kernel yet; run it on the CPU");
}

template <OpId op>
constexpr KernelFn kCudaEntry = &no_cuda_kernel<op>;
#define DS_CUDA_SPECIALIZE(name) template <> constexpr KernelFn kCudaEntry<OpId::name> = &cuda::name;
DS_CUDA_KERNELS(DS_CUDA_SPECIALIZE)
#undef DS_CUDA_SPECIALIZE

#define DS_CUDA_ENTRY(op, kind) kCudaEntry<OpId::op>,
constexpr std::array<KernelFn, kNumPrimitives> kCudaKernels = {DS_PRIMITIVES(DS_CUDA_ENTRY)};
#undef DS_CUDA_ENTRY

constexpr std::array<bool, kNumPrimitives> kHasCudaKernel = [] {
  std::array<bool, kNumPrimitives> has{};
#define DS_CUDA_HAS(name) has[static_cast<size_t>(OpId::name)] = true;
  DS_CUDA_KERNELS(DS_CUDA_HAS)
#undef DS_CUDA_HAS
  return has;
}();

}  // namespace

KernelFn cuda_kernel(OpId op) { return kCudaKernels[static_cast<size_t>(op)]; }

bool has_cuda_kernel(OpId op) { return kHasCudaKernel[static_cast<size_t>(op)]; }

}  // namespace ds
