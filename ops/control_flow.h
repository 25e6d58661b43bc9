#pragma once
// The primitives behind ds::cond and ds::while_loop (framework/graph/control_flow.h): data-dependent control flow
// as one op, so a traced graph keeps the choice for run time instead of baking in the branch the trace took.
//   cond(pred, inputs...)    runs body 0 (the true branch) when pred, a one-element tensor, is nonzero, else body 1,
//                            on the inputs; differentiable: its vjp is the vjp of the branch pred picks.
//   while_loop(carried...)   while body 0 (the condition) gives nonzero on the carried values, replaces them by
//                            body 1's results; returns the last ones. Not differentiable.
// A kernel reads pred on the host (as a check, not a graph break) and runs the body with tracing and autograd
// off; the outputs are copied into the op's.
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <ds/ops/op_def.h>

namespace ds {

class ControlFlowBodies {
 public:
  virtual ~ControlFlowBodies() = default;
  // Runs body `index` (cond: 0 true, 1 false; while_loop: 0 the condition, 1 the body) on `inputs`.
  virtual TensorList run(int index, std::span<const Tensor> inputs) const = 0;
  // The inputs the bodies expect and the outputs they make (while_loop: the carried values, both), and the device
  // they run on (none: their inputs'); the rule checks the inputs against them.
  virtual std::span<const OutMeta> inputs() const = 0;
  virtual std::span<const OutMeta> outputs() const = 0;
  virtual std::optional<Device> device() const = 0;
  // cond: the gradients of the inputs given the outputs' (undefined for an output no gradient reached), by the
  // branch pred picks; one entry per input, undefined where none.
  virtual TensorList vjp(const Tensor& pred, std::span<const Tensor> inputs, std::span<const Tensor> grads) const;
};

// Keeps `bodies` for the life of the process and returns the number a ControlFlowAttrs names them by (one per
// traced ds::cond or ds::while_loop call).
int64_t register_control_flow(std::shared_ptr<const ControlFlowBodies> bodies);
// The bodies registered as `id`; an unknown id is an error.
const ControlFlowBodies& control_flow_bodies(int64_t id);

// Whether a one-element tensor is nonzero, read on the host as an op's check (no graph break).
bool truth_of(const Tensor& pred, std::string_view op);

}  // namespace ds
