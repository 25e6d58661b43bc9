#pragma once
// Activation checkpointing (torch.utils.checkpoint, the reentrant variant): trade compute for memory.
//
// checkpoint(fn, inputs) runs fn with grad mode off, so none of fn's intermediate activations are kept, and records
// a single node in their place that holds only the inputs and the state of the default random generator. When
// backward reaches that node it re-runs fn with grad mode on, on detached copies of the inputs and with the
// generator rewound (so dropout draws the same masks), and backpropagates through the recomputed graph:
//   - the gradients of the detached inputs become the node's input gradients;
//   - tensors fn captures rather than receives (a module's parameters) get their gradients accumulated into .grad
//     directly by that inner backward, as torch's reentrant checkpoint does.
// Gradients equal the plain run's bit for bit when fn is deterministic given the generator.
//
// Limits (as torch's reentrant variant): ds::grad() through a checkpoint is an error (the recomputation would
// accumulate into captured leaves' .grad); a create_graph backward does not record the recomputation's backward, so
// no higher derivatives through a checkpoint. Stateful code can ask
// is_checkpoint_recomputing() to avoid applying an update twice (nn::BatchNorm skips its running statistics).
#include <functional>
#include <type_traits>
#include <vector>

#include <ds/ops/tensor.h>

namespace ds {

using CheckpointFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// Runs fn(inputs) without keeping its activations; see above. With grad mode off it simply calls fn. With grad mode
// on, every floating output requires grad (even when no input does: fn may capture parameters, which a no-grad run
// cannot see). Inputs may be undefined or not require grad; outputs must be defined.
std::vector<Tensor> checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs);

// The one-output form over any number of tensor arguments: ds::checkpoint([&](const Tensor& a, const Tensor& b)
// { return block(a, b); }, a, b).
template <typename F, typename... Ts>
  requires(sizeof...(Ts) > 0 && (std::is_convertible_v<Ts, const Tensor&> && ...))
Tensor checkpoint(F&& fn, const Ts&... inputs) {
  CheckpointFn wrapped = [f = std::forward<F>(fn)](const std::vector<Tensor>& in) {
    return [&]<size_t... I>(std::index_sequence<I...>) {
      return std::vector<Tensor>{Tensor(f(in[I]...))};
    }(std::index_sequence_for<Ts...>{});
  };
  return checkpoint(wrapped, std::vector<Tensor>{Tensor(inputs)...})[0];
}

// True on this thread while a checkpoint node re-runs its function during backward.
bool is_checkpoint_recomputing();

}  // namespace ds
