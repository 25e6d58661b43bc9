#pragma once
// The executor's memory plan: which results are written into the storage of an input that no later node reads
// (in-place reuse where the kernel allows it: elementwise kernels, and rows that list the input in out_reuses_in,
// such as the cross-entropy backward writing the logits' gradient over the logits), and the bytes of intermediates
// alive at once with and without that reuse, from the graph's liveness. Storage is counted by alias set: a view
// keeps its base's storage alive, so a set lives from the node that allocates it to its last reader.
// Then the arenas: storages the graph allocates and frees itself get offsets in a few blocks, one per device and
// phase of the graph, laid out from the storages' lifetimes (arena.h), so a replay allocates a block per phase
// instead of one per result. The phases are chosen so that the arenas do not raise the peak (a storage crossing
// phases, such as an activation the backward reads, is allocated on its own). Only storages made by output 0 of a
// kernel (which can write into a given tensor) or by a fused group are placed; others (a max pool's indices) are
// allocated as before.
// Like the fusion plan, it leaves the graph unchanged. Values the program can see (graph outputs, gradients set on
// parameters, arguments, captured tensors and anything sharing their storage) are never reused nor placed.
#include <cstdint>
#include <string>
#include <vector>

#include <ds/core/device.h>
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

  struct Arena {
    Device device;
    int64_t bytes = 0;
    int64_t results = 0;  // made in it per call (the executor lets it go after the last)
  };
  std::vector<Arena> arenas;                      // per device and phase with placed storages
  std::vector<int32_t> node_arena;                // per node: the arena its output 0 is made in, or -1
  std::vector<int64_t> node_offset;               // per node: output 0's offset in that arena
  std::vector<std::vector<std::pair<int32_t, int64_t>>> group_place;  // per fused group, per output: the same
  int64_t placed = 0;                             // results made in an arena
  int64_t arena_bytes = 0;                        // the arenas' bytes, together
  int arena_phases = 0;                           // phases the graph was cut into for them
  int64_t arena_peak_bytes = 0;                   // the peak predicted with the arenas (each whole while alive)
  // "12 results written into dying inputs; intermediates peak at 41.2 MB (46.0 MB without); 30 results in 5 arenas
  // of 2.1 MB (8 phases), peak 41.3 MB with them"
  std::string str() const;
};

struct MemoryPlanOptions {
  bool reuse = true;  // write results into dying inputs; false leaves every result in fresh storage
  bool arena = true;  // lay the graph's own storages out in arenas
};

// The plan for g, whose fused groups (if any) run as `fusion` says. With both options off the plan only measures.
MemoryPlan plan_memory(const Graph& g, const FusionPlan* fusion = nullptr, MemoryPlanOptions options = {});

}  // namespace ds::graph
