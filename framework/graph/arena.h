#pragma once
// One block of device memory holding many tensors at planned offsets: the memory plan's arena (memory_plan.h), where
// a graph's intermediates live at offsets chosen from their lifetimes, and the stand-ins of a graph break's rerun
// (graph_break.h), which all start at one scratch block.
#include <cstdint>
#include <span>
#include <vector>

#include <ds/core/storage.h>
#include <ds/ops/tensor.h>

namespace ds::graph {

// A storage that lives from node `begin` to node `end` (both included) and spans `bytes`.
struct Lifetime {
  int32_t begin = 0, end = 0;
  int64_t bytes = 0;
};

// The most bytes alive at once: each storage from its begin to its end (capped at num_nodes); storages with no
// bytes or no lifetime (end < begin) count for nothing.
int64_t peak_bytes(std::span<const Lifetime> storages, int32_t num_nodes);

struct ArenaLayout {
  std::vector<int64_t> offsets;  // per lifetime: its first byte in the arena (multiples of the alignment)
  int64_t bytes = 0;             // the arena's size
};

// Offsets such that two storages whose lifetimes share a node never share a byte: greedy by size, as TFLite and
// XLA's heap simulators do (largest first, each at the lowest offset left free by the ones already placed whose
// lifetimes meet its own). The arena is then at least the peak of bytes alive at once, and close to it in practice.
ArenaLayout lay_out(std::span<const Lifetime> storages, int64_t alignment = 64);

// Candidate storages grouped into arenas by phase. The nodes are cut into k phases of equal length; a candidate whose
// lifetime lies within one phase goes to the arena of that phase and of its key (its device), laid out by lay_out;
// one that crosses phases stays out (allocated on its own). An arena lives from its first storage's start to its last
// one's end. One arena for a whole training step would hold the bytes of the forward's activations through the
// backward while the gradients (which the program keeps, so never in an arena) pile up, a higher peak than storages
// allocated one by one; phases free each arena with its part of the step. k = 1, 2, 4, ..., 64 are tried and the
// smallest with the lowest predicted peak (arenas whole while alive, plus `others` and the candidates left out, all
// from their start to their end, capped at num_nodes) is kept. Then, while that peak is above the peak without
// arenas, the arena alive at the peak goes back to one-by-one allocation: arenas never raise the predicted peak.
struct PhasedArenas {
  std::vector<int32_t> arena;        // per candidate: its arena, or -1
  std::vector<int64_t> offsets;      // per candidate: its offset in that arena
  std::vector<int32_t> arena_key;    // per arena: its candidates' key
  std::vector<int64_t> arena_bytes;  // per arena: its size
  std::vector<Lifetime> arena_span;  // per arena: from its first storage's start to its last one's end, its bytes
  int phases = 1;
  int64_t peak = 0;          // predicted peak bytes with these arenas
  int64_t peak_without = 0;  // the same with every candidate allocated on its own
};
PhasedArenas lay_out_in_phases(std::span<const Lifetime> candidates, std::span<const int32_t> keys,
                               std::span<const Lifetime> others, int32_t num_nodes);

// A contiguous tensor of `sizes` and `dtype` over `block`'s bytes from `offset` on, with a storage of its own (so
// that code comparing storages sees no aliasing) that keeps the block alive.
Tensor tensor_in_block(const IntrusivePtr<Storage>& block, int64_t offset, DType dtype, const Shape& sizes);

}  // namespace ds::graph
