// Dead code elimination (passes.h): one backward sweep marks what is read; nodes that write stay.
#include <vector>

#include "passes.h"

namespace ds::graph {

int eliminate_dead_code(Graph& g) {
  std::vector<bool> read(g.num_values(), false);
  for (ValueId v : g.outputs()) read[static_cast<size_t>(v)] = true;
  for (const Action& a : g.actions())
    if (!a.host) read[static_cast<size_t>(a.grad)] = true;
  std::vector<Node>& nodes = g.mutable_nodes();
  std::vector<bool> keep(nodes.size(), false);
  for (size_t i = nodes.size(); i-- > 0;) {
    const Node& n = nodes[i];
    bool live = n.target != kNoValue || op_def(n.op).mutates != 0;
    for (ValueId v : n.outputs) live = live || read[static_cast<size_t>(v)];
    if (!live) continue;
    keep[i] = true;
    for (ValueId v : n.inputs)
      if (v != kNoValue) read[static_cast<size_t>(v)] = true;
    if (n.target != kNoValue) read[static_cast<size_t>(n.target)] = true;
  }
  std::vector<bool> drop(nodes.size());
  int removed = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    drop[i] = !keep[i];
    removed += drop[i];
  }
  g.erase_nodes(drop);
  return removed;
}

}  // namespace ds::graph
