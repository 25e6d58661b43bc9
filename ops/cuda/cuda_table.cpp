// The CUDA kernel table, indexed by OpId. Every primitive has an explicit entry: a kernel, or one that throws
// "[op] has no CUDA kernel" (STYLE.md rule 5). DS_CUDA_KERNELS lists the primitives that have one; the CUDA backend
// issue fills it as kernels land.
#include <array>

#include <ds/core/detail/check.h>
#include <ds/ops/dispatch.h>

namespace ds {

#define DS_CUDA_KERNELS(X)  // none yet: the CUDA backend is the next issue

namespace {

template <OpId op>
void no_cuda_kernel(const KernelCtx& c) {
  DS_FAIL(c.name, "has no CUDA kernel yet; run it on the CPU");
}

constexpr bool has_kernel(OpId op) {
  bool found = false;
#define DS_CUDA_HAS(name) found = found || op == OpId::name;
  DS_CUDA_KERNELS(DS_CUDA_HAS)
#undef DS_CUDA_HAS
  return found;
}

#define DS_CUDA_ENTRY(op, kind) &no_cuda_kernel<OpId::op>,
constexpr std::array<KernelFn, kNumPrimitives> kCudaKernels = {DS_PRIMITIVES(DS_CUDA_ENTRY)};
#undef DS_CUDA_ENTRY

}  // namespace

KernelFn cuda_kernel(OpId op) { return kCudaKernels[static_cast<size_t>(op)]; }
bool has_cuda_kernel(OpId op) { return has_kernel(op); }

}  // namespace ds
