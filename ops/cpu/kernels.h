#pragma once
// Declarations of the CPU kernels, one per primitive of kind Kernel, named after the op (STYLE.md rule 4). A
// primitive without its definition fails to link.
#include <ds/ops/op_def.h>

namespace ds::cpu {

#define DS_CPU_DECL_Kernel(op) void op(const KernelCtx& ctx);
#define DS_CPU_DECL_View(op)
#define DS_CPU_DECL(op, kind) DS_CPU_DECL_##kind(op)
DS_PRIMITIVES(DS_CPU_DECL)
#undef DS_CPU_DECL
#undef DS_CPU_DECL_View
#undef DS_CPU_DECL_Kernel

// The pointwise math of the elementwise primitives that fuse (ops/cpu/pointwise.h), named <op>_pointwise.
#define DS_CPU_POINTWISE_OPS(X)                                                                                   \
  X(neg) X(abs) X(exp) X(log) X(log1p) X(expm1) X(sqrt) X(rsqrt) X(sin) X(cos) X(tanh) X(erf) X(reciprocal)      \
  X(sigmoid) X(relu) X(pow_scalar) X(clamp) X(gelu) X(gelu_backward) X(add) X(sub) X(mul) X(div) X(pow)          \
  X(maximum) X(minimum) X(eq) X(ne) X(lt) X(le) X(gt) X(ge) X(where)
#define DS_CPU_DECL_POINTWISE(op) extern const PointwiseMath op##_pointwise;
DS_CPU_POINTWISE_OPS(DS_CPU_DECL_POINTWISE)
#undef DS_CPU_DECL_POINTWISE

}  // namespace ds::cpu
