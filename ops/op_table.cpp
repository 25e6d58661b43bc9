// The op table: the rows of every primitive and composite, indexed from op_list.h. A row that is declared in the
// list but defined nowhere fails to link.
#include <array>

#include <ds/ops/op_def.h>

namespace ds {

#define DS_ROW_DECL(op, kind) extern const OpDef ds_op_row_##op;
DS_PRIMITIVES(DS_ROW_DECL)
#undef DS_ROW_DECL
#define DS_COMPOSITE_DECL(op) extern const OpDef ds_composite_row_##op;
DS_COMPOSITES(DS_COMPOSITE_DECL)
#undef DS_COMPOSITE_DECL

namespace {

#define DS_ROW_REF(op, kind) &ds_op_row_##op,
const std::array<const OpDef*, kNumPrimitives> kPrimitiveRows = {DS_PRIMITIVES(DS_ROW_REF)};
#undef DS_ROW_REF
#define DS_COMPOSITE_REF(op) &ds_composite_row_##op,
const std::array<const OpDef*, kNumComposites> kCompositeRows = {DS_COMPOSITES(DS_COMPOSITE_REF)};
#undef DS_COMPOSITE_REF

#define DS_NAME(op, kind) #op,
constexpr std::array<std::string_view, kNumPrimitives> kNames = {DS_PRIMITIVES(DS_NAME)};
#undef DS_NAME

}  // namespace

const OpDef& op_def(OpId op) { return *kPrimitiveRows[static_cast<size_t>(op)]; }
std::span<const OpDef* const> primitive_defs() { return kPrimitiveRows; }
std::span<const OpDef* const> composite_defs() { return kCompositeRows; }
std::string_view op_name(OpId op) { return kNames[static_cast<size_t>(op)]; }

KernelFn cpu_kernel(OpId op) { return kPrimitiveRows[static_cast<size_t>(op)]->cpu; }
KernelFn cuda_kernel(OpId op) { return kPrimitiveRows[static_cast<size_t>(op)]->cuda; }
bool has_cuda_kernel(OpId op) { return cuda_kernel(op) != nullptr; }

}  // namespace ds
