#pragma once
// Graph passes: each takes a graph and rewrites it in place, keeping what the program observes (its outputs, the
// tensors it writes in place, the order of its RNG draws). Each returns how many nodes it removed or changed.
#include <vector>

#include <ds/graph/ir.h>

namespace ds::graph {

// Which alias sets some node writes in place (an in-place target or an input its kernel mutates), by set number.
std::vector<bool> written_alias_sets(const Graph& g);

// Dead code: removes nodes none of whose outputs is read (by a later node, as an in-place target or as a graph
// output), unless the node writes memory the program can see (an in-place node, an op that mutates an input).
int eliminate_dead_code(Graph& g);

// Common subexpressions: a node equal to an earlier one (same op, equal attributes, same input values, no write to
// any input's storage in between) is dropped and its outputs read the earlier node's. Nodes that write, and random
// ops (their RNG state is a value of its own), are never merged.
int eliminate_common_subexpressions(Graph& g);

// Algebraic identities: x * 1, 1 * x, x / 1, x + 0, 0 + x, x - 0 by a scalar the program passed become x, a
// permute of a permute that restores the order becomes the value permuted first, a view that changes no size or
// stride becomes its input, and a reshape of a reshape of a contiguous value reads that value; never where the
// result or x is written in place, changes dtype or shape, or would hand the caller an argument or captured tensor
// itself.
int simplify(Graph& g);

// Constant folding: nodes that read only constants (numbers the program wrapped for this call, results of folded
// nodes; factories read nothing) run once, now, and the nodes that read them read captured constants instead. Never
// folded: results written in place, outputs and gradients, results off the CPU or above max_bytes. Returns the
// nodes removed.
int fold_constants(Graph& g, int64_t max_bytes = 1 << 20);

// Rematerialisation: an elementwise result that is read again long after it was made (an activation the backward
// reads) is recomputed just before that later read instead of being held in between, when every input of its node
// is alive there anyway (or held only a little longer), or small (a per-channel mean), and unwritten in between.
// The copy makes the same bits (the same kernel on the same values). Results the program can see (outputs,
// gradients, tensors written in place) are never recomputed. Returns the nodes added.
struct RematOptions {
  int min_gap = 16;                // nodes between two reads for the later one to recompute
  int64_t min_bytes = 64 << 10;    // smaller results are kept
  int64_t small_input_ratio = 8;   // an input at most 1/ratio of the result's bytes may be kept alive for it
};
int rematerialize(Graph& g, const RematOptions& options = {});

}  // namespace ds::graph
