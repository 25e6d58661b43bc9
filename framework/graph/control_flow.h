#pragma once
// Data-dependent control flow that ds::compile keeps: a graph traced from `if (x.sum().item() > 0)` bakes in the
// branch the trace took (and the read is a graph break); ds::cond and ds::while_loop make the choice an op of the
// graph (ops/control_flow.h), decided on every run.
//
//   TensorList y = ds::cond(x.sum() > 0, [](auto v) { return TensorList{v[0] * 2}; },
//                                        [](auto v) { return TensorList{-v[0]}; }, {x});
//   TensorList r = ds::while_loop([](auto v) { return v[1] < 10; },                  // the condition
//                                 [](auto v) { return TensorList{v[0] * 0.5, v[1] + 1}; },  // the body
//                                 {x, zeros({}, {.dtype = kI64})});
//
// Eagerly (no trace), they run the branch pred picks or the loop, as plain C++ would, with autograd as usual. Under
// a trace (ds::compile), each function is traced into a graph of its own on the operands, and one cond or
// while_loop node runs the graphs at run time. The functions are then:
//   - pure: no in-place writes to operands or captured tensors, no random draws, no host effects or reads of data;
//   - closed: tensors the traced function computed or received reach them as operands, never by capture (a capture
//     would replay the traced call's values); parameters and buffers may be captured;
//   - typed: both branches, and the loop body, return tensors of the operands' device with the same count, shapes
//     and dtypes (the loop body: those of the carried values); the condition returns one element.
// Each is a clear error naming the function and what it did. cond is differentiable, in its operands and in the
// captured tensors that require grad: its vjp is a cond of the branches' vjps (each recomputes its branch), so a
// compiled training step keeps both the choice and its gradient. while_loop is not differentiable (its trip count
// is data): operands that require grad under grad mode are an error.
#include <functional>
#include <span>

#include <ds/ops/tensor.h>

namespace ds {

using Branch = std::function<TensorList(std::span<const Tensor>)>;

// true_fn(operands) when pred (a tensor of one element, of any dtype) is nonzero, else false_fn(operands).
TensorList cond(const Tensor& pred, const Branch& true_fn, const Branch& false_fn, std::span<const Tensor> operands);
inline TensorList cond(const Tensor& pred, const Branch& true_fn, const Branch& false_fn,
                       std::initializer_list<Tensor> operands) {
  return cond(pred, true_fn, false_fn, std::span<const Tensor>(operands.begin(), operands.size()));
}

// carried = init; while (cond_fn(carried) is nonzero) carried = body_fn(carried); returns carried.
TensorList while_loop(const std::function<Tensor(std::span<const Tensor>)>& cond_fn, const Branch& body_fn,
                      std::span<const Tensor> init);
inline TensorList while_loop(const std::function<Tensor(std::span<const Tensor>)>& cond_fn, const Branch& body_fn,
                             std::initializer_list<Tensor> init) {
  return while_loop(cond_fn, body_fn, std::span<const Tensor>(init.begin(), init.size()));
}

}  // namespace ds
