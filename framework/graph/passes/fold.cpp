// Constant folding (passes.h). Constants are the numbers the program wrapped for this call (0-d host scalars, never
// written) and what nodes compute from constants alone (factories read no input: zeros, arange, full). Such a node
// runs once, here, and its outputs become captured constants, so a replay no longer casts x * 2.0's 2.0 to the
// dtype of x or builds an arange. Random ops read an RNG state, which is no constant. What the program can see or
// write is left alone: results written in place (an accumulator started from zeros must be fresh on every run),
// outputs and gradients (the caller could change them), results on a GPU (folding would run a kernel at compile
// time on a device this pass does not manage), results above `max_bytes` (a constant is held for the graph's
// lifetime), and control flow (cond, while_loop: their bodies may read captured tensors, live).
#include <vector>

#include <ds/core/grad_mode.h>
#include <ds/ops/dispatch.h>

#include "passes.h"

namespace ds::graph {

int fold_constants(Graph& g, int64_t max_bytes) {
  const std::vector<bool> written = written_alias_sets(g);
  const std::vector<int32_t> last_read = last_reads_by_alias_set(g);
  auto is_written = [&](ValueId v) {
    const auto a = static_cast<size_t>(g.value(v).alias);
    return a < written.size() && written[a];
  };
  // The tensor each constant value holds (folded results, wrapped numbers), by value.
  std::vector<Tensor> constant(g.num_values());
  for (size_t i = 0; i < g.captured().size(); ++i) {
    const Tensor& t = g.captured()[i];
    if (t.impl()->is_wrapped_number() && !is_written(g.captured_values()[i]))
      constant[static_cast<size_t>(g.captured_values()[i])] = t;
  }
  NoGradGuard no_grad;
  std::vector<bool> drop(g.nodes().size(), false);
  int folded = 0;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    if (n.target != kNoValue || op_def(n.op).mutates != 0 || n.op == OpId::cond || n.op == OpId::while_loop) continue;
    bool foldable = true;
    for (ValueId v : n.inputs) foldable = foldable && (v == kNoValue || constant[static_cast<size_t>(v)].defined());
    for (ValueId v : n.outputs) {
      const Value& x = g.value(v);
      foldable = foldable && !is_written(v) && x.device.is_cpu() && bytes_of(x) <= max_bytes &&
                 last_read[static_cast<size_t>(x.alias)] != INT32_MAX;
    }
    if (!foldable) continue;
    TensorList ins;
    for (ValueId v : n.inputs) ins.push_back(v == kNoValue ? Tensor() : constant[static_cast<size_t>(v)]);
    const TensorList outs = call_op(n.op, ins, n.attrs);
    for (size_t k = 0; k < n.outputs.size(); ++k) constant[static_cast<size_t>(n.outputs[k])] = outs[k];
    drop[i] = true;
    ++folded;
  }
  if (!folded) return 0;
  // The nodes kept read captured constants instead of folded results (those a folded node reads go with it).
  std::vector<ValueId> as_captured(g.num_values(), kNoValue);
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    if (drop[i]) continue;
    for (ValueId& v : g.mutable_nodes()[i].inputs) {
      if (v == kNoValue || g.value(v).kind != ValueKind::Result || !drop[static_cast<size_t>(g.value(v).node)])
        continue;
      ValueId& c = as_captured[static_cast<size_t>(v)];
      if (c == kNoValue) {
        c = g.add_captured(constant[static_cast<size_t>(v)]);
        // Views of the folded result that stay (a graph output) share the constant's storage: its alias set, so
        // the memory plan never writes over them.
        const int32_t from = g.value(v).alias, to = g.value(c).alias;
        for (size_t w = 0; w < g.num_values(); ++w)
          if (g.value(static_cast<ValueId>(w)).alias == from) g.mutable_value(static_cast<ValueId>(w)).alias = to;
      }
      v = c;
    }
  }
  g.erase_nodes(drop);
  return folded;
}

}  // namespace ds::graph
