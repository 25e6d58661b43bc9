#pragma once
// The backward engine: walks the graph from the outputs in dependency order (a node runs once every gradient for
// it has arrived), sums gradients that fan in, and either accumulates into leaves (backward) or returns the
// gradients of chosen inputs (grad).
#include <functional>
#include <vector>

#include <ds/ops/tensor.h>

namespace ds {

// Accumulates d(sum of outputs[i] * grad_outputs[i]) / d(leaf) into every leaf's .grad(). A missing grad_output is
// ones for a one-element output. retain_graph keeps saved tensors for another backward; create_graph records the
// backward itself (for higher derivatives).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

// The gradients of outputs with respect to inputs, without touching any .grad(). An input the outputs do not
// depend on is an error unless allow_unused, when its gradient is undefined.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool create_graph = false, bool allow_unused = false);

namespace autograd {
// True while the graph task running on this thread is a ds::grad() (not a backward()).
bool in_grad_call();
// True while a backward() or grad() runs on this thread.
bool in_backward();
// Queues fn to run once the backward (or grad) running on this thread has processed its whole graph, before it
// returns (torch's Variable._execution_engine.queue_callback); the outermost one, when a checkpoint's recomputation
// runs a backward inside it. Only valid inside that backward: from a tensor hook, a post-accumulate-grad hook or a
// custom Function's backward; an error anywhere else. Callbacks run in the order queued, and may queue more.
void queue_callback(std::function<void()> fn);
}  // namespace autograd

}  // namespace ds
