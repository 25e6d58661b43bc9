#include "executor.h"

#include <bit>

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/factory.h>
#include <ds/ops/pointwise_program.h>
#include <ds/ops/rng_input.h>

#include "fusion.h"

namespace ds::graph {

namespace {

// For each value, the index of the last node that reads it (as an input or target); -1 if none. Graph outputs are
// read "after" the last node.
std::vector<int32_t> last_uses(const Graph& g) {
  std::vector<int32_t> last(g.num_values(), -1);
  const auto& nodes = g.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (ValueId v : nodes[i].inputs)
      if (v != kNoValue) last[static_cast<size_t>(v)] = static_cast<int32_t>(i);
    if (nodes[i].target != kNoValue) last[static_cast<size_t>(nodes[i].target)] = static_cast<int32_t>(i);
  }
  // A gradient an action sets before node i is alive until node i has run (released with that node's inputs).
  auto action_use = [&](int32_t a, int32_t node) {
    const Action& x = g.actions()[static_cast<size_t>(a)];
    if (!x.host) last[static_cast<size_t>(x.grad)] = std::max(last[static_cast<size_t>(x.grad)], node);
  };
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int32_t a : nodes[i].actions) action_use(a, static_cast<int32_t>(i));
  for (int32_t a : g.trailing_actions()) action_use(a, static_cast<int32_t>(nodes.size()));
  for (ValueId v : g.outputs()) last[static_cast<size_t>(v)] = static_cast<int32_t>(nodes.size());
  return last;
}

int64_t bytes_of(const Tensor& t) { return t.numel() * static_cast<int64_t>(itemsize(t.dtype())); }

}  // namespace

TensorList execute(const Graph& g, std::span<const Tensor> args, ExecStats* stats, bool record_autograd,
                   const FusionPlan* fusion) {
  DS_CHECK(g.host_reads().empty(), "graph", "the graph cannot run on its own: {} (a graph break; ds::compile runs "
           "such calls eagerly)", g.host_read_str());
  DS_CHECK(args.size() == g.inputs().size(), "graph", "expects {} arguments, got {}", g.inputs().size(), args.size());
  std::vector<Tensor> env(g.num_values());
  for (size_t i = 0; i < args.size(); ++i) {
    const Value& want = g.value(g.inputs()[i]);
    const Tensor& a = args[i];
    DS_CHECK(a.defined() && a.dtype() == want.dtype && a.device() == want.device && a.sizes() == want.sizes, "graph",
             "argument {} is {}, but the graph was traced with {}", i,
             a.defined() ? fmt::format("{} {} on {}", dtype_name(a.dtype()), shape_str(a.sizes()), a.device().str())
                         : std::string("undefined"),
             type_str(want));
    env[static_cast<size_t>(g.inputs()[i])] = a;
  }
  for (size_t i = 0; i < g.captured().size(); ++i) env[static_cast<size_t>(g.captured_values()[i])] = g.captured()[i];
  for (size_t i = 0; i < g.rng().size(); ++i) {
    const RngDraw& d = g.rng()[i];
    DS_CHECK(!d.alive.expired(), "graph", "random draw {} reads a generator that no longer exists (it was "
             "destroyed after the trace; keep it alive as long as the graph runs)", i);
    env[static_cast<size_t>(g.rng_values()[i])] = rng_input::draw(*d.generator, d.counters);
  }

  const std::vector<int32_t> last = last_uses(g);
  auto act = [&](int32_t a) {
    const Action& x = g.actions()[static_cast<size_t>(a)];
    if (x.host) x.host();
    else env[static_cast<size_t>(x.leaf)].set_grad(env[static_cast<size_t>(x.grad)]);
  };
  GradModeGuard grad_mode(record_autograd);
  // A fused group records no autograd history, and a tracer (a compiled call inside a trace) would not see it.
  if (record_autograd || dispatch_state().tracing || (fusion && fusion->groups.empty())) fusion = nullptr;
  DS_CHECK(!fusion || fusion->group_of.size() == g.nodes().size(), "graph", "the fusion plan is for a graph of {} "
           "nodes, this one has {}", fusion ? fusion->group_of.size() : 0, g.nodes().size());
  int64_t live = 0, peak = 0;
  std::vector<bool> counted(g.num_values(), false);  // values whose bytes are in `live` (fresh, non-view results)
  TensorList ins;
  const auto& nodes = g.nodes();
  // Releases v when node j is its last reader (the allocator's pool takes the storage back when no view holds it).
  auto release = [&](ValueId v, size_t j) {
    if (v == kNoValue || last[static_cast<size_t>(v)] != static_cast<int32_t>(j)) return;
    Tensor& t = env[static_cast<size_t>(v)];
    const Value& meta = g.value(v);
    if (meta.kind != ValueKind::Result) return;  // arguments and captured tensors belong to the program
    if (counted[static_cast<size_t>(v)] && t.defined()) live -= bytes_of(t);
    counted[static_cast<size_t>(v)] = false;
    t = Tensor();
  };
  int64_t fused = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    const OpDef& def = op_def(n.op);
    if (fusion && fusion->group_of[i] >= 0) {
      const FusedGroup& grp = fusion->groups[static_cast<size_t>(fusion->group_of[i])];
      for (int32_t a : n.actions) act(a);
      if (grp.nodes.back() != static_cast<int32_t>(i)) continue;  // the group runs at its last node
      ins.clear();
      for (ValueId v : grp.inputs) ins.push_back(env[static_cast<size_t>(v)]);
      TensorList outs;
      for (ValueId v : grp.outputs) outs.push_back(empty(grp.program.sizes, {.dtype = g.value(v).dtype}));
      run_pointwise_program(grp.program, ins, outs);
      for (size_t k = 0; k < outs.size(); ++k) {
        live += bytes_of(outs[k]);
        counted[static_cast<size_t>(grp.outputs[k])] = true;
        env[static_cast<size_t>(grp.outputs[k])] = std::move(outs[k]);
      }
      peak = std::max(peak, live);
      ins.clear();
      for (int32_t j : grp.nodes) {
        for (ValueId v : nodes[static_cast<size_t>(j)].inputs) release(v, static_cast<size_t>(j));
        release(nodes[static_cast<size_t>(j)].outputs[0], static_cast<size_t>(j));
      }
      fused += static_cast<int64_t>(grp.nodes.size());
      continue;
    }
    for (int32_t a : n.actions) act(a);
    ins.clear();
    for (ValueId v : n.inputs) ins.push_back(v == kNoValue ? Tensor() : env[static_cast<size_t>(v)]);
    const size_t mutated = static_cast<size_t>(std::popcount(def.mutates));
    const size_t op_outputs = n.outputs.size() - mutated;
    if (n.target != kNoValue) {
      Tensor t = env[static_cast<size_t>(n.target)];
      call_op_inplace(n.op, t, ins, n.attrs, def.name);
      env[static_cast<size_t>(n.outputs[0])] = t;
    } else {
      TensorList outs = call_op(n.op, ins, n.attrs);
      DS_CHECK(outs.size() == op_outputs, "graph", "node {} ({}) made {} outputs, the trace {}", i, def.name,
               outs.size(), op_outputs);
      for (size_t k = 0; k < op_outputs; ++k) {
        if (def.kind != OpKind::View) {
          live += bytes_of(outs[k]);
          counted[static_cast<size_t>(n.outputs[k])] = true;
        }
        env[static_cast<size_t>(n.outputs[k])] = std::move(outs[k]);
      }
    }
    // The inputs the kernel updated in place are their own new versions.
    size_t k = op_outputs;
    for (uint32_t m = def.mutates; m; m &= m - 1, ++k)
      env[static_cast<size_t>(n.outputs[k])] = ins[static_cast<size_t>(std::countr_zero(m))];
    peak = std::max(peak, live);
    // Release what no later node reads.
    for (ValueId v : n.inputs) release(v, i);
    release(n.target, i);
    for (ValueId v : n.outputs) release(v, i);  // results nobody reads
    ins.clear();
  }
  if (stats) {
    stats->nodes = static_cast<int64_t>(nodes.size());
    stats->fused_nodes = fused;
    stats->peak_live_bytes = peak;
  }
  for (int32_t a : g.trailing_actions()) act(a);
  TensorList out;
  for (ValueId v : g.outputs()) out.push_back(env[static_cast<size_t>(v)]);
  return out;
}

}  // namespace ds::graph
