// Rematerialisation (passes.h). A training step's graph holds its forward's activations until the backward reads
// them. Where such an activation is an elementwise result whose inputs the backward keeps anyway (batch norm's
// x - mean, next to x; GELU's output, next to its input), recomputing it at the backward's read costs one pass over
// memory and frees its buffer for the whole gap, which is where the step's peak lies.
#include <algorithm>
#include <bit>
#include <climits>
#include <unordered_map>
#include <vector>

#include "passes.h"

namespace ds::graph {

namespace {

struct AliasFacts {
  std::vector<int32_t> last_read;               // per alias set: the last node reading it; INT_MAX: the program's
  std::vector<std::vector<int32_t>> writes;     // per alias set: the nodes writing it in place, in order
  std::vector<bool> program;                    // per alias set: an argument's, a captured tensor's, an RNG state's
};

AliasFacts alias_facts(const Graph& g) {
  AliasFacts f;
  f.last_read = last_reads_by_alias_set(g);
  f.writes.resize(f.last_read.size());
  f.program.assign(f.last_read.size(), false);
  auto set_of = [&](ValueId v) { return static_cast<size_t>(g.value(v).alias); };
  const auto& nodes = g.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.target != kNoValue) f.writes[set_of(n.target)].push_back(static_cast<int32_t>(i));
    for (uint32_t m = op_def(n.op).mutates; m; m &= m - 1)
      f.writes[set_of(n.inputs[static_cast<size_t>(std::countr_zero(m))])].push_back(static_cast<int32_t>(i));
  }
  for (ValueId v : g.inputs()) f.program[set_of(v)] = true;
  for (ValueId v : g.captured_values()) f.program[set_of(v)] = true;
  for (ValueId v : g.rng_values()) f.program[set_of(v)] = true;
  return f;
}

bool written_between(const AliasFacts& f, int32_t set, int32_t from, int32_t to) {
  for (int32_t w : f.writes[static_cast<size_t>(set)])
    if (w > from && w < to) return true;
  return false;
}

// One recomputation: node `node` again before node `at`, for the reads at or after `at`.
struct Remat {
  int32_t node = 0, at = 0;
  std::vector<int32_t> views;  // the view nodes between the result and what the late reads read, in order
};

}  // namespace

int rematerialize(Graph& g, const RematOptions& o) {
  const AliasFacts facts = alias_facts(g);
  const auto& nodes = g.nodes();
  // Per alias set of a candidate result: the view nodes deriving from it (a fresh set holds the result and its
  // views only, when nothing writes it).
  std::vector<std::vector<int32_t>> views_of(facts.last_read.size());
  for (size_t j = 0; j < nodes.size(); ++j)
    if (op_def(nodes[j].op).kind == OpKind::View && !nodes[j].outputs.empty())
      views_of[static_cast<size_t>(g.value(nodes[j].outputs[0]).alias)].push_back(static_cast<int32_t>(j));
  std::vector<bool> recomputed(facts.last_read.size(), false);  // sets whose late reads read a copy
  std::vector<Remat> plan;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    const OpDef& def = op_def(n.op);
    if (!def.pointwise || def.kind != OpKind::Primitive || n.target != kNoValue || def.mutates || n.outputs.size() != 1)
      continue;
    const ValueId out = n.outputs[0];
    const Value& v = g.value(out);
    const auto set = static_cast<size_t>(v.alias);
    if (facts.last_read[set] == INT_MAX || !facts.writes[set].empty() || bytes_of(v) < o.min_bytes) continue;
    // The reads of the result and its views, by nodes other than those views.
    std::vector<int32_t> reads;
    for (size_t j = i + 1; j < nodes.size(); ++j) {
      const Node& r = nodes[j];
      if (op_def(r.op).kind == OpKind::View && !r.outputs.empty() && g.value(r.outputs[0]).alias == v.alias) continue;
      for (ValueId x : r.inputs)
        if (x != kNoValue && g.value(x).alias == v.alias) {
          reads.push_back(static_cast<int32_t>(j));
          break;
        }
    }
    int32_t at = -1, prev = static_cast<int32_t>(i);
    for (int32_t j : reads) {
      if (j - prev >= o.min_gap) {
        at = j;
        break;
      }
      prev = j;
    }
    if (at < 0) continue;
    // A view made at or after `at` would read the copy while its value stays in the original's alias set.
    bool ok = std::none_of(views_of[set].begin(), views_of[set].end(), [&](int32_t j) { return j >= at; });
    for (ValueId x : n.inputs) {
      if (x == kNoValue) continue;
      const Value& in = g.value(x);
      const auto in_set = static_cast<size_t>(in.alias);
      // Alive at `at` anyway, or kept a little longer than it would be: its bytes times the nodes it is held
      // longer at most a quarter of what the result's buffer saves (batch norm's x, whose last read in the
      // backward comes a few nodes before that of x - mean).
      const int64_t held_longer = static_cast<int64_t>(at) - facts.last_read[in_set];
      const bool alive = !recomputed[in_set] &&
                         (held_longer <= 0 || held_longer * bytes_of(in) * 4 <= static_cast<int64_t>(at - prev) *
                                                                                  bytes_of(v));
      const bool small = bytes_of(in) * o.small_input_ratio <= bytes_of(v);
      ok = ok && (alive || small) && !written_between(facts, in.alias, static_cast<int32_t>(i), at);
    }
    // Host code between them (an optimizer's counters) may have written the program's tensors (arguments, captured
    // ones and their views) outside the graph. Actions of node `at` run after the copy.
    for (int32_t j = static_cast<int32_t>(i) + 1; ok && j < at; ++j)
      for (int32_t a : nodes[static_cast<size_t>(j)].actions)
        if (g.actions()[static_cast<size_t>(a)].host)
          for (ValueId x : n.inputs)
            ok = ok && (x == kNoValue || !facts.program[static_cast<size_t>(g.value(x).alias)]);
    if (!ok) continue;
    recomputed[set] = true;
    Remat r{static_cast<int32_t>(i), at, {}};
    for (int32_t j : views_of[set])
      if (j > static_cast<int32_t>(i)) r.views.push_back(j);
    plan.push_back(std::move(r));
  }
  // Later insertion points first, so the earlier ones keep their indices.
  std::stable_sort(plan.begin(), plan.end(), [](const Remat& a, const Remat& b) { return a.at > b.at; });
  int added = 0;
  for (const Remat& r : plan) {
    std::unordered_map<ValueId, ValueId> copy_of;
    const Node& src = g.nodes()[static_cast<size_t>(r.node)];
    const ValueId original = src.outputs[0];
    const SmallVec<ValueId, 4> src_inputs = src.inputs;
    size_t pos = static_cast<size_t>(r.at);
    copy_of[original] = g.insert_node_copy(pos++, static_cast<size_t>(r.node), src_inputs)[0];
    // Its views (all made before `at`), for the reads at or after `at` that read them.
    for (int32_t j : r.views) {
      const Node& vn = g.nodes()[static_cast<size_t>(j)];
      SmallVec<ValueId, 4> ins = vn.inputs;
      for (ValueId& x : ins)
        if (auto it = copy_of.find(x); it != copy_of.end()) x = it->second;
      const ValueId from = vn.outputs[0];
      copy_of[from] = g.insert_node_copy(pos++, static_cast<size_t>(j), ins)[0];
    }
    added += static_cast<int>(pos) - r.at;
    std::vector<Node>& ns = g.mutable_nodes();
    for (size_t j = pos; j < ns.size(); ++j)
      for (ValueId& x : ns[j].inputs)
        if (auto it = copy_of.find(x); it != copy_of.end()) x = it->second;
  }
  // Copies of views nobody reads (a late read only through views made before `at` that it did not use).
  if (added) added -= eliminate_dead_code(g);
  return added;
}

}  // namespace ds::graph
