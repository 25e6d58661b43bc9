#pragma once
// One row of the op table (STYLE.md rule 1): everything ds knows about an op, in one place. A primitive's row holds
// its name, attribute names, output rule, CPU kernel, vjp (in ds ops) and test facts; a composite's row holds its
// name and test facts (its front function is its definition).
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <ds/ops/op_attrs.h>
#include <ds/ops/op_list.h>
#include <ds/ops/tensor.h>

namespace ds {

// ---- the output rule
struct OutMeta {
  Shape sizes;
  DType dtype = kF32;
};
// Where a view op's output points into its input's storage.
struct ViewGeometry {
  Shape sizes;
  Shape strides;
  int64_t offset = 0;  // storage offset, in elements
};
struct RuleResult {
  SmallVec<OutMeta, 2> outs;
  // Input i is cast to casts[i] before the kernel runs (type promotion); empty or NoneAttr-free means no cast.
  SmallVec<std::optional<DType>, 4> casts;
  ViewGeometry view;  // set by view ops' rules
  Device device = kCPU;
};
struct OpCall {
  OpId op;
  std::string_view name;
  std::span<const Tensor> in;
  const Attrs& attrs;
};
using RuleFn = void (*)(const OpCall& call, RuleResult& result);

// ---- kernels: receive inputs already cast and outputs already allocated by the rule; they never re-derive shapes.
struct KernelCtx {
  OpId op;
  std::string_view name;
  std::span<const Tensor> in;
  std::span<Tensor> out;
  const Attrs& attrs;
};
using KernelFn = void (*)(const KernelCtx& ctx);

// ---- pointwise math: an elementwise primitive's formula over n contiguous elements, for the graph compiler's fused
// groups (framework/graph/fusion.h), which run chains of such ops chunk by chunk without writing the intermediates
// to memory. The CPU kernel calls the same function, so a fused group computes what eager does, bit for bit. Types:
// the compute type C (float for f32, double for f64) for every operand, except comparisons (bool out) and where
// (bool condition in[0]).
struct PointwiseMath {
  using Fn = void (*)(int64_t n, void* out, const void* const* in, const Attrs& attrs);
  Fn f32 = nullptr;
  Fn f64 = nullptr;
  // Whether an element's result is the same whether Eigen computes it in a SIMD packet or in scalar code (one
  // correctly rounded IEEE operation, comparisons, selections). Other formulas (exp, tanh) depend on where chunk
  // boundaries fall, so they fuse only where the group walks the elements as the eager kernel does.
  bool exact = false;
};

// ---- the vjp: the formula only. The engine un-broadcasts each returned gradient to its input's shape, casts it to
// the input's dtype, sums gradients that fan in and skips inputs that need none.
struct VjpCtx {
  const Attrs& attrs;
  std::span<const Tensor> in;     // saved inputs (those in the row's save_in mask; others are undefined)
  std::span<const Tensor> out;    // saved outputs (save_out mask)
  std::span<const Tensor> grad;   // gradient of each output; undefined for outputs no gradient reached
  std::span<const Shape> in_sizes;  // shapes of all inputs, saved or not
  std::span<const DType> in_dtypes;
  uint32_t needs = ~0u;           // bit i: input i needs a gradient
  bool needs_grad(int i) const { return (needs >> i) & 1u; }
};
using VjpFn = TensorList (*)(const VjpCtx& ctx);

// ---- test facts: read by tests/ops/op_table_test.cpp, which walks every row.
struct OpCase {
  std::string label;
  TensorList inputs;                                    // the inputs, in the dtype asked for
  std::function<TensorList(const TensorList&)> fn;      // calls the front function
  uint32_t grad_inputs = ~0u;                           // inputs that gradcheck perturbs (floating ones only)
  std::vector<std::vector<double>> expected;            // hand-computed outputs, row-major (optional)
  bool use_reference = true;                            // compare with the row's ref1/ref2 (false for cases
                                                        // with other attributes than the reference assumes)
};
struct BadCase {
  std::string label;
  std::function<void()> fn;   // must throw ds::Error
  std::string message;        // ... whose text contains this
};
struct TestFacts {
  std::vector<OpCase> (*cases)(DType dtype) = nullptr;
  std::vector<BadCase> (*bad)() = nullptr;
  double (*ref1)(double) = nullptr;          // elementwise reference, unary
  double (*ref2)(double, double) = nullptr;  // elementwise reference, binary
  bool gradgrad = false;                     // run gradgradcheck too
  double atol = 1e-6, rtol = 1e-4;           // gradcheck tolerances
};

enum class OpKind : uint8_t { Primitive, View, Composite };

// What autocast does to an op's floating inputs (autograd/autocast.cpp applies it).
enum class AutocastClass : uint8_t {
  Passthrough,   // runs in its inputs' dtypes
  LowPrecision,  // cast to the autocast dtype (f16/bf16): the GEMM-bound ops, which accumulate in f32 inside
  F32,           // f16/bf16 inputs cast to f32: long accumulations, exp/log, powers, norms
};

struct OpDef {
  std::string_view name;
  OpKind kind = OpKind::Primitive;
  const AttrSchema* attrs = nullptr;  // the struct its attributes are (&attrs_schema<ReduceAttrs>); null: none
  RuleFn rule = nullptr;
  KernelFn cpu = nullptr;
  const PointwiseMath* pointwise = nullptr;  // elementwise primitives: the CPU kernel's math, for fused groups
  KernelFn cuda = nullptr;     // DS_CUDA_KERNEL(op) (ops/detail/cuda_kernel.h); null: none (call_op says so)
  // The dtypes its kernels run in, per device; call_op refuses others naming them. The dtype is that of input
  // `dtype_input` after the rule's casts (output 0's when it is -1 or absent). Composites: what the tests check.
  DTypeSet cpu_dtypes = kFloatTypes;
  DTypeSet cuda_dtypes = {};
  int8_t dtype_input = 0;
  AutocastClass autocast = AutocastClass::Passthrough;
  VjpFn vjp = nullptr;         // null: not differentiable (integer, boolean, random or step outputs)
  // The vjp when the backward is itself recorded (create_graph): the formula in differentiable ds ops, where `vjp`
  // calls a fused backward primitive. Null: `vjp` serves both. The engine chooses.
  VjpFn vjp_graph = nullptr;
  uint32_t save_in = 0;        // inputs the vjp reads
  uint32_t save_out = 0;       // outputs the vjp reads
  uint32_t mutates = 0;        // inputs the kernel updates in place besides output 0 (adam_step's moments)
  bool nondeterministic_cuda = false;  // its CUDA kernel accumulates with atomics: refused in deterministic mode
  bool strided_out = false;    // the kernel writes outputs of any strides (elementwise kernels), so in-place
                               // ops run it straight into their target
  // Inputs whose storage output 0 may be written into when both are contiguous with the same shape and dtype: the
  // kernel reads each element of them before it writes that element of the output and never after. The graph
  // executor's memory plan (graph/memory_plan.h) uses it for inputs no later node reads. strided_out implies all.
  uint32_t out_reuses_in = 0;
  bool differentiable_composite = true;  // composites: whether gradients flow through it
  TestFacts test;

  bool differentiable() const { return kind == OpKind::Composite ? differentiable_composite : vjp != nullptr; }
};

// The rows, indexed by OpId (primitives) and by position (composites); defined from op_list.h.
const OpDef& op_def(OpId op);
std::span<const OpDef* const> primitive_defs();
std::span<const OpDef* const> composite_defs();
std::string_view op_name(OpId op);

// Whether a primitive has a CUDA kernel (its row names one).
bool has_cuda_kernel(OpId op);

}  // namespace ds

// Defines the row of a primitive or composite: DS_OP_ROW(exp) { .name = "exp", ... };
#define DS_PRIMITIVE_ROW(op_name) extern const ::ds::OpDef ds_op_row_##op_name; const ::ds::OpDef ds_op_row_##op_name =
#define DS_COMPOSITE_ROW(op_name) extern const ::ds::OpDef ds_composite_row_##op_name; \
  const ::ds::OpDef ds_composite_row_##op_name =
