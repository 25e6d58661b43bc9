#include "executor.h"

#include <bit>

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/factory.h>
#include <ds/ops/pointwise_program.h>
#include <ds/ops/rng_input.h>

#include "arena.h"
#include "fusion.h"
#include "memory_plan.h"

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

}  // namespace

TensorList execute(const Graph& g, std::span<const Tensor> args, ExecStats* stats, bool record_autograd,
                   const FusionPlan* fusion, const MemoryPlan* memory) {
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
  // A fused group records no autograd history, and a tracer (a compiled call inside a trace) would not see it, nor
  // would the rerun of a graph break's host code that hands out results call by call (graph_break.h); an output
  // written over an input would overwrite what autograd saved.
  const bool plain = !record_autograd && !dispatch_state().tracing && !dispatch_state().substituting;
  if (!plain || (fusion && fusion->groups.empty())) fusion = nullptr;
  DS_CHECK(!fusion || fusion->group_of.size() == g.nodes().size(), "graph", "the fusion plan is for a graph of {} "
           "nodes, this one has {}", fusion ? fusion->group_of.size() : 0, g.nodes().size());
  MemoryPlan measured;  // without a plan: storage by alias set, for the live count only
  // Anomaly mode checks a kernel's inputs after it ran: an output written over one would hide where a NaN began.
  if (!memory || !plain || dispatch_state().check_finite ||
      memory->group_reuse.size() != (fusion ? fusion->groups.size() : 0)) {
    measured = plan_memory(g, fusion, {.reuse = false, .arena = false});
    memory = &measured;
  }
  DS_CHECK(memory->reuse.size() == g.nodes().size() && memory->node_arena.size() == g.nodes().size(), "graph",
           "the memory plan is for a graph of {} nodes, this one has {}", memory->reuse.size(), g.nodes().size());
  // The arenas: each allocated when its first result is made, and let go after its last is, so the block goes back
  // when that result dies (each result made in it holds it: arena.h).
  std::vector<IntrusivePtr<Storage>> arenas(memory->arenas.size());
  std::vector<int64_t> to_make(memory->arenas.size());
  for (size_t a = 0; a < to_make.size(); ++a) to_make[a] = memory->arenas[a].results;
  auto in_arena = [&](std::pair<int32_t, int64_t> place, const Value& meta) {
    const auto a = static_cast<size_t>(place.first);
    const MemoryPlan::Arena& planned = memory->arenas[a];
    if (!arenas[a]) arenas[a] = IntrusivePtr<Storage>::make(static_cast<size_t>(planned.bytes),
                                                           allocator_for(planned.device));
    Tensor t = tensor_in_block(arenas[a], place.second, meta.dtype, meta.sizes);
    if (--to_make[a] == 0) arenas[a].reset();
    return t;
  };
  // Live bytes by storage: a storage counts while some value in it is bound.
  std::vector<int32_t> holders(memory->storage_bytes.size(), 0);
  int64_t live = 0, peak = 0;
  auto storage_of = [&](ValueId v) {
    return static_cast<size_t>(memory->storage[static_cast<size_t>(g.value(v).alias)]);
  };
  auto bind = [&](ValueId v, Tensor t) {
    Tensor& slot = env[static_cast<size_t>(v)];
    const bool counts = g.value(v).kind == ValueKind::Result;
    if (counts && slot.defined() && --holders[storage_of(v)] == 0) live -= memory->storage_bytes[storage_of(v)];
    slot = std::move(t);
    if (counts && slot.defined() && holders[storage_of(v)]++ == 0) live += memory->storage_bytes[storage_of(v)];
  };
  // An input the plan gives to a result: used only if it is, at run time, the whole storage laid out as planned.
  auto reusable = [](const Tensor& t, const Value& out) {
    return t.defined() && t.is_contiguous() && t.storage_offset() == 0 && t.sizes() == out.sizes &&
           t.dtype() == out.dtype && t.impl()->storage()->nbytes() == static_cast<size_t>(t.nbytes());
  };
  TensorList ins;
  const auto& nodes = g.nodes();
  // Releases v after node j when no later node reads it (the allocator's pool takes the storage back once no view
  // holds it). Arguments and captured tensors belong to the program.
  auto release = [&](ValueId v, size_t j) {
    if (v == kNoValue || last[static_cast<size_t>(v)] > static_cast<int32_t>(j)) return;
    if (g.value(v).kind == ValueKind::Result) bind(v, Tensor());
  };
  int64_t fused = 0, reused = 0, placed = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    const OpDef& def = op_def(n.op);
    if (fusion && fusion->group_of[i] >= 0) {
      const auto gi = static_cast<size_t>(fusion->group_of[i]);
      const FusedGroup& grp = fusion->groups[gi];
      for (int32_t a : n.actions) act(a);
      if (grp.nodes.back() != static_cast<int32_t>(i)) continue;  // the group runs at its last node
      ins.clear();
      for (ValueId v : grp.inputs) ins.push_back(env[static_cast<size_t>(v)]);
      TensorList outs;
      for (size_t k = 0; k < grp.outputs.size(); ++k) {
        const Value& meta = g.value(grp.outputs[k]);
        const auto& planned = memory->group_reuse;  // empty per group in a plan that only measures
        const int32_t j = gi < planned.size() && k < planned[gi].size() ? planned[gi][k] : -1;
        const auto place = gi < memory->group_place.size() ? memory->group_place[gi][k] : std::pair{-1, int64_t{-1}};
        if (j >= 0 && reusable(ins[static_cast<size_t>(j)], meta)) {
          outs.push_back(alias_of(ins[static_cast<size_t>(j)]));  // its own tensor, as a fresh result would be
          ++reused;
        } else if (place.first >= 0) {
          outs.push_back(in_arena(place, meta));
          ++placed;
        } else {
          outs.push_back(empty(grp.program.sizes, {.dtype = meta.dtype}));
        }
      }
      run_pointwise_program(grp.program, ins, outs);
      for (size_t k = 0; k < outs.size(); ++k) bind(grp.outputs[k], std::move(outs[k]));
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
      bind(n.outputs[0], t);
    } else {
      const int32_t r = memory->reuse[i];
      TensorList outs;
      if (r >= 0 && reusable(ins[static_cast<size_t>(r)], g.value(n.outputs[0]))) {
        outs = call_op_into(n.op, ins[static_cast<size_t>(r)], ins, n.attrs);
        ++reused;
      } else if (memory->node_arena[i] >= 0) {
        outs = call_op_into(n.op, in_arena({memory->node_arena[i], memory->node_offset[i]}, g.value(n.outputs[0])),
                            ins, n.attrs);
        ++placed;
      } else {
        outs = call_op(n.op, ins, n.attrs);
      }
      DS_CHECK(outs.size() == op_outputs, "graph", "node {} ({}) made {} outputs, the trace {}", i, def.name,
               outs.size(), op_outputs);
      for (size_t k = 0; k < op_outputs; ++k) bind(n.outputs[k], std::move(outs[k]));
    }
    // The inputs the kernel updated in place are their own new versions.
    size_t k = op_outputs;
    for (uint32_t m = def.mutates; m; m &= m - 1, ++k)
      bind(n.outputs[k], ins[static_cast<size_t>(std::countr_zero(m))]);
    peak = std::max(peak, live);
    // Release what no later node reads, and results nobody reads.
    ins.clear();
    for (ValueId v : n.inputs) release(v, i);
    release(n.target, i);
    for (ValueId v : n.outputs) release(v, i);
  }
  if (stats) {
    stats->nodes = static_cast<int64_t>(nodes.size());
    stats->fused_nodes = fused;
    stats->reused_outputs = reused;
    stats->arena_outputs = placed;
    stats->peak_live_bytes = peak;
  }
  for (int32_t a : g.trailing_actions()) act(a);
  TensorList out;
  for (ValueId v : g.outputs()) out.push_back(env[static_cast<size_t>(v)]);
  return out;
}

}  // namespace ds::graph
