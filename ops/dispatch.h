#pragma once
// The op layer's single choke point. Every front function (ds::add, ds::matmul, ...) ends in call_op, which:
//   1. runs the row's rule (checks, output shapes and dtypes, type promotion casts);
//   2. if a graph is being traced, hands the call to the tracer (which records it; the call still runs);
//   3. applies the autocast policy where active;
//   4. allocates the outputs (or aliases the input, for views) and runs the device's kernel;
//   5. if grad mode is on and an input requires grad, records an autograd node.
// Layers above ops (autograd, the graph compiler, mixed precision, the profiler) plug into steps 2, 3 and 5 through
// the hooks below, so none of them ever edits an op.
#include <functional>

#include <ds/core/rng.h>
#include <ds/ops/op_def.h>

namespace ds {

// Runs a primitive. `inputs` may hold undefined tensors only where the row allows optional inputs.
TensorList call_op(OpId op, std::span<const Tensor> inputs, const Attrs& attrs = {});
// The same, for a single-output op.
Tensor call_op1(OpId op, std::span<const Tensor> inputs, const Attrs& attrs = {});
inline Tensor call_op1(OpId op, std::initializer_list<Tensor> inputs, const Attrs& attrs = {}) {
  return call_op1(op, std::span<const Tensor>(inputs.begin(), inputs.size()), attrs);
}
inline TensorList call_op(OpId op, std::initializer_list<Tensor> inputs, const Attrs& attrs = {}) {
  return call_op(op, std::span<const Tensor>(inputs.begin(), inputs.size()), attrs);
}

// Runs a primitive whose output 0 is written into `self` (an in-place op: add_, copy_, ...). Inputs[0] is usually
// self. Bumps self's version. Under autograd, self must not be a leaf that requires grad, nor a view of a tensor
// that requires grad; its history is then rebased onto the op's node.
void call_op_inplace(OpId op, Tensor& self, std::span<const Tensor> inputs, const Attrs& attrs, std::string_view name);

// Runs a primitive with grad mode off, writing output 0 into `out0`: storage the caller gives up, such as an input
// no later node reads (the graph executor's memory plan). out0 must be contiguous with the shape, dtype and device
// the rule gives output 0, and an input sharing its storage must have its geometry and be one the row lets output 0
// take (strided_out, out_reuses_in). Returns the outputs, output 0 being out0.
TensorList call_op_into(OpId op, const Tensor& out0, std::span<const Tensor> inputs, const Attrs& attrs);

// Hooks that the layers above ops install. All are null until installed.
struct DispatchHooks {
  // Step 2: the tracer (framework/graph), trace-and-run: called once the kernel has run, with the inputs after the
  // rule's casts, the outputs the rule shaped, and `target`, the tensor an in-place call wrote output 0 into (null
  // for an out-of-place call).
  void (*trace)(const OpDef& def, OpId op, std::span<const Tensor> inputs, const Attrs& attrs,
                std::span<const Tensor> outputs, const Tensor* target) = nullptr;
  // The tracer again: `state` (ops/rng_input.h) was just drawn from `generator` for `counters` Philox counters, so a
  // replay draws anew instead of reusing it.
  void (*trace_rng)(const Tensor& state, Generator& generator, uint64_t counters) = nullptr;
  // The tracer again: the autograd engine set `leaf`'s .grad to `grad` (a replay sets it again).
  void (*trace_grad)(const Tensor& leaf, const Tensor& grad) = nullptr;
  // The tracer again: whether it holds a reference to t (code that decides by reference counts discounts it).
  bool (*traced)(const TensorImpl* t) = nullptr;
  // The tracer again: host code the ops that follow depend on (run_host_effect below).
  void (*trace_host)(const std::function<void()>& effect) = nullptr;
  // Step 4's stand-in while a compiled graph that ran before a graph break hands its results to the eager rerun of
  // the host code (graph/graph_break.h, dispatch_state().substituting): fills `outs` with the results the graph
  // made for this call and returns true, and the kernel does not run; false for a call that runs as usual (a view).
  // `out` is the in-place target, as in trace. Throws when the call is not the one the trace recorded there.
  bool (*substitute)(const OpDef& def, OpId op, std::span<const Tensor> inputs, const RuleResult& r,
                     const Tensor* out, TensorList& outs) = nullptr;
  // The same for run_host_effect: true when the compiled graph already ran this effect (it is then skipped).
  bool (*substitute_effect)() = nullptr;
  // Step 3: autocast. May replace inputs (casts); returns true when it did.
  bool (*autocast)(const OpDef& def, OpId op, TensorList& inputs) = nullptr;
  // Step 5: autograd. Records a node for the call; sets grad_fn on the outputs.
  void (*record)(const OpDef& def, OpId op, std::span<const Tensor> inputs, const Attrs& attrs,
                 std::span<Tensor> outputs) = nullptr;
  // Rebase self's history onto `result`'s (in-place ops under autograd).
  void (*rebase)(Tensor& self, const Tensor& result) = nullptr;
  // Profiler: called around each op when set.
  void (*profile_begin)(OpId op) = nullptr;
  void (*profile_end)(OpId op) = nullptr;
  // Tensor::backward (the engine lives in autograd/).
  void (*backward)(const Tensor& root, const Tensor& grad, bool retain_graph, bool create_graph) = nullptr;
};
DispatchHooks& dispatch_hooks();

// Per-thread switches read on every call (cheap flags; the hooks above do the work).
struct DispatchState {
  bool tracing = false;
  bool autocast = false;
  bool profiling = false;
  // Anomaly mode's forward half: every op checks its floating outputs and throws, naming itself, when it turns
  // finite inputs into a NaN or an infinity (the first op that produced one). Set by autograd's anomaly mode.
  bool check_finite = false;
  // Calls take their results from a compiled graph instead of running kernels (DispatchHooks::substitute).
  bool substituting = false;
};
DispatchState& dispatch_state();

// The CPU kernel table and the CUDA one, indexed by OpId.
KernelFn cpu_kernel(OpId op);
KernelFn cuda_kernel(OpId op);

// Runs `effect`, host code whose results the ops that follow read (an optimizer's step counts, the learning rate it
// writes into the 0-d tensor its update op takes), with tracing off; a tracer records it, so every replay of the
// graph runs it again at this point. What it captures must outlive the graph.
void run_host_effect(const std::function<void()>& effect);

// Wraps a C++ number as a 0-d tensor that takes part in type promotion like a Python scalar.
Tensor wrap_scalar(Scalar s, Device device = kCPU);

// Makes a new tensor with the same storage, sizes and strides, without autograd history.
Tensor alias_of(const Tensor& t);

}  // namespace ds
