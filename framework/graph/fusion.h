#pragma once
// Pointwise fusion for the CPU replay: runs of consecutive nodes whose ops have pointwise math (op_def.h), of one
// shape and one float dtype (with, between them, nodes that only make single elements from constants, such as the
// cast of a scalar operand), become one PointwiseProgram (ops/pointwise_program.h) that the executor runs in
// L1-sized chunks. Values read only inside a group never reach memory; those read later (by other nodes, actions
// or as graph outputs) are the group's outputs. Results are bitwise those of the nodes run one by one: a formula
// whose SIMD and scalar forms can differ (exp, tanh) joins only groups whose inputs are all full-shape and
// contiguous or single elements, which the group walks as the eager kernel does; exact ones (+, *, max, where,
// comparisons) may also read broadcast operands (a per-channel scale).
// The graph is not changed (it still prints, saves and replays node by node); the plan is how the executor runs it.
#include <cstdint>
#include <vector>

#include <ds/graph/ir.h>
#include <ds/ops/pointwise_program.h>

namespace ds::graph {

struct FusedGroup {
  std::vector<int32_t> nodes;    // node indices, in order (between them only nodes that make single elements)
  std::vector<ValueId> inputs;   // the program's input slots
  std::vector<ValueId> outputs;  // the values it writes (the program's output slots)
  PointwiseProgram program;
};

struct FusionPlan {
  std::vector<FusedGroup> groups;
  std::vector<int32_t> group_of;  // per node: its group, or -1
  int64_t fused_nodes = 0;
  // "3 groups of 8 nodes: [4-6] f32[8, 64] ..." one line per group.
  std::string str() const;
};

// Groups of at least two nodes; only a group's first node may carry actions. The executor runs each group at its
// last node.
FusionPlan plan_fusion(const Graph& g);

}  // namespace ds::graph
