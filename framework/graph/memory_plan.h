#pragma once
// The executor's memory plan: which results are written into the storage of an input that no later node reads
// (in-place reuse where the kernel allows it: elementwise kernels, and rows that list the input in out_reuses_in,
// such as the cross-entropy backward writing the logits' gradient over the logits), and the bytes of intermediates
// alive at once with and without that reuse, from the graph's liveness. Storage is counted by alias set: a view
// keeps its base's storage alive, so a set lives from the node that allocates it to its last reader.
// Like the fusion plan, it leaves the graph unchanged. Values the program can see (graph outputs, gradients set on
// parameters, arguments, captured tensors and anything sharing their storage) are never reused.
#include <cstdint>
#include <string>
#include <vector>

#include <ds/graph/ir.h>

namespace ds::graph {

struct FusionPlan;

struct MemoryPlan {
  std::vector<int32_t> reuse;                     // per node: the input output 0 is written into, or -1
  std::vector<std::vector<int32_t>> group_reuse;  // per fused group, per output: the input slot it takes, or -1
  std::vector<int32_t> storage;                   // per alias set: the storage it lives in (sets merged by reuse)
  std::vector<int64_t> storage_bytes;             // per storage: its bytes; 0 for the program's (not counted)
  int64_t reused = 0;                             // results written into a dying input
  int64_t peak_bytes = 0;                         // most bytes of intermediates alive at once, with the reuse
  int64_t peak_bytes_without = 0;                 // the same, every result in fresh storage
  // "12 results written into dying inputs; intermediates peak at 41.2 MB (46.0 MB without)"
  std::string str() const;
};

// The plan for g, whose fused groups (if any) run as `fusion` says. `reuse`: false leaves every result in fresh
// storage (the plan then only measures).
MemoryPlan plan_memory(const Graph& g, const FusionPlan* fusion = nullptr, bool reuse = true);

}  // namespace ds::graph
