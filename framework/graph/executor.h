#pragma once
// Runs a Graph: binds its arguments, its captured tensors (live, by identity) and fresh RNG draws, then runs every
// node through the dispatcher in order. A graph that holds its own backward (a traced training step) runs with grad
// mode off; a forward-only graph may run with it on, so its outputs carry autograd history like eager ones.
// A node that wrote in place writes into the tensor bound to its target again, so parameters, optimizer state and
// buffers are updated where the eager program updated them. Each intermediate value is released after its last use.
#include <span>

#include <ds/graph/ir.h>

namespace ds::graph {

struct FusionPlan;
struct MemoryPlan;

struct ExecStats {
  int64_t nodes = 0;            // nodes run (fused ones included)
  int64_t fused_nodes = 0;      // of them, run inside fused groups
  int64_t reused_outputs = 0;   // results written into a dying input's storage (the memory plan)
  int64_t arena_outputs = 0;    // results made in the plan's arena
  int64_t peak_live_bytes = 0;  // most bytes of storage the graph's own values held at once (intermediates only)
};

// Runs `g` on `args` (one per graph input, each with the traced dtype, device and shape; a ds::Error names the
// first that differs). Returns the graph's outputs.
// `record_autograd`: run with grad mode on (forward-only graphs). `fusion`: plan_fusion(g) (fusion.h), whose groups
// run as fused programs; ignored when recording autograd (a fused group records no history) and while a tracer
// records (it would not see the group). `memory`: plan_memory(g, fusion) (memory_plan.h), whose results are written
// into dying inputs or made in its arenas (allocated once per call); ignored in the same cases (autograd saves inputs
// that reuse would overwrite).
TensorList execute(const Graph& g, std::span<const Tensor> args, ExecStats* stats = nullptr,
                   bool record_autograd = false, const FusionPlan* fusion = nullptr,
                   const MemoryPlan* memory = nullptr);

}  // namespace ds::graph
