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

}  // namespace ds::cpu
