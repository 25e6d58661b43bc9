#include "memory_plan.h"

#include <algorithm>
#include <climits>
#include <numeric>

#include <fmt/format.h>

#include "arena.h"
#include "fusion.h"

namespace ds::graph {

namespace {

bool contiguous_from_zero(const Value& v) { return is_contiguous(v) && v.offset == 0; }

// The bytes a fresh result's storage spans (its strides may skip, never overlap).
int64_t span_bytes(const Value& v) {
  if (bytes_of(v) == 0) return 0;
  int64_t last = v.offset;
  for (size_t d = 0; d < v.sizes.size(); ++d) last += (v.sizes[d] - 1) * v.strides[d];
  return (last + 1) * static_cast<int64_t>(itemsize(v.dtype));
}

struct SetFacts {
  std::vector<int32_t> last_read;  // per alias set: the last node reading it; INT_MAX: the program sees it
  std::vector<int32_t> def;        // per alias set: the node allocating it; -1: not a result's
  std::vector<int64_t> bytes;      // per alias set: its storage's bytes (results only)
  std::vector<ValueId> maker;      // per alias set: the value whose node allocates it
};

SetFacts set_facts(const Graph& g, const FusionPlan* fusion) {
  const std::vector<int32_t> last = last_reads_by_alias_set(g);
  const size_t n = last.size();
  SetFacts f{last, std::vector<int32_t>(n, -1), std::vector<int64_t>(n, 0), std::vector<ValueId>(n, kNoValue)};
  const auto& nodes = g.nodes();
  // The program's sets live all the call; any other is allocated by the first node making one of its values (values
  // of nodes the passes removed are not looked at: their node numbers are stale).
  std::vector<bool> seen(n, false);
  auto program = [&](ValueId v) { seen[static_cast<size_t>(g.value(v).alias)] = true; };
  for (ValueId v : g.inputs()) program(v);
  for (ValueId v : g.captured_values()) program(v);
  for (ValueId v : g.rng_values()) program(v);
  for (size_t i = 0; i < nodes.size(); ++i)
    for (ValueId v : nodes[i].outputs) {
      const auto s = static_cast<size_t>(g.value(v).alias);
      if (seen[s]) continue;
      seen[s] = true;
      f.def[s] = static_cast<int32_t>(i);
      f.bytes[s] = span_bytes(g.value(v));
      f.maker[s] = v;
    }
  if (fusion) {  // a group's values live in its chunk buffers, except its outputs, made when the group runs
    for (const FusedGroup& grp : fusion->groups) {
      for (int32_t j : grp.nodes)
        for (ValueId v : nodes[static_cast<size_t>(j)].outputs) f.bytes[static_cast<size_t>(g.value(v).alias)] = 0;
      for (ValueId v : grp.outputs) {
        const auto s = static_cast<size_t>(g.value(v).alias);
        f.bytes[s] = span_bytes(g.value(v));
        f.def[s] = grp.nodes.back();
        f.maker[s] = v;
      }
      // The group reads its inputs when it runs, at its last node.
      for (int32_t j : grp.nodes)
        for (ValueId v : nodes[static_cast<size_t>(j)].inputs)
          if (v != kNoValue) {
            int32_t& l = f.last_read[static_cast<size_t>(g.value(v).alias)];
            l = std::max(l, grp.nodes.back());
          }
    }
  }
  return f;
}

// Whether output `out` of the node at `at` may take the storage of `in`: `in` is a whole contiguous storage of the
// same shape and dtype, its set is the graph's own and no node after `at` reads it.
bool can_take(const Graph& g, const SetFacts& f, ValueId in, ValueId out, int32_t at) {
  if (in == kNoValue) return false;
  const Value &a = g.value(in), &o = g.value(out);
  const auto s = static_cast<size_t>(a.alias);
  return f.def[s] >= 0 && f.last_read[s] <= at && f.bytes[s] > 0 && a.sizes == o.sizes && a.dtype == o.dtype &&
         a.device == o.device && contiguous_from_zero(a) && contiguous_from_zero(o) &&
         f.bytes[s] == bytes_of(a);
}

// Per storage (sets merged by reuse): it lives from the first node allocating one of its sets to the last reading
// one (INT_MAX: the program sees it). `first`: the set that allocates it, or -1 for a storage of no result.
std::vector<Lifetime> storage_lifetimes(const SetFacts& f, const std::vector<int32_t>& storage,
                                        std::vector<int32_t>* first = nullptr) {
  std::vector<Lifetime> life(storage.size(), Lifetime{INT_MAX, -1, 0});
  if (first) first->assign(storage.size(), -1);
  for (size_t s = 0; s < storage.size(); ++s) {
    if (f.def[s] < 0 || f.bytes[s] == 0) continue;
    const auto st = static_cast<size_t>(storage[s]);
    Lifetime& l = life[st];
    if (f.def[s] < l.begin) {
      l.begin = f.def[s];
      if (first) (*first)[st] = static_cast<int32_t>(s);
    }
    l.end = std::max({l.end, f.last_read[s], f.def[s]});
    l.bytes = std::max(l.bytes, f.bytes[s]);
  }
  return life;
}

int64_t peak_of(const SetFacts& f, const std::vector<int32_t>& storage, size_t num_nodes) {
  return peak_bytes(storage_lifetimes(f, storage), static_cast<int32_t>(num_nodes));
}

// Whether the executor can make `v`, the value allocating a storage, in an arena: output 0 of a kernel that writes
// into a given tensor (call_op_into), or an output of a fused group, laid out contiguously from its first byte.
bool placeable(const Graph& g, const FusionPlan* fusion, ValueId v, int32_t at) {
  const Value& x = g.value(v);
  if (x.device.is_meta() || !contiguous_from_zero(x) || span_bytes(x) != bytes_of(x)) return false;
  if (fusion && fusion->group_of[static_cast<size_t>(at)] >= 0) return true;  // set_facts: a group's output
  const Node& n = g.nodes()[static_cast<size_t>(at)];
  const OpDef& def = op_def(n.op);
  return n.target == kNoValue && def.kind == OpKind::Primitive && def.mutates == 0 && !n.outputs.empty() &&
         n.outputs[0] == v;
}

// Lays the storages the graph allocates and frees itself out in arenas, by device and phase (arena.h).
void place_in_arenas(const Graph& g, const FusionPlan* fusion, const SetFacts& f, MemoryPlan& p) {
  const size_t num_storages = p.storage_bytes.size();
  std::vector<int32_t> first;  // per storage: the set that allocates it
  const std::vector<Lifetime> life = storage_lifetimes(f, p.storage, &first);
  std::vector<size_t> candidates;
  std::vector<Lifetime> life_of_candidates, others;
  std::vector<int32_t> keys;
  std::vector<Device> devices;
  for (size_t st = 0; st < num_storages; ++st) {
    if (first[st] < 0) continue;
    const auto s = static_cast<size_t>(first[st]);
    if (life[st].end == INT_MAX || !placeable(g, fusion, f.maker[s], f.def[s])) {  // the program sees INT_MAX
      others.push_back(life[st]);
      continue;
    }
    const Device d = g.value(f.maker[s]).device;
    auto it = std::find(devices.begin(), devices.end(), d);
    if (it == devices.end()) it = devices.insert(devices.end(), d);
    candidates.push_back(st);
    life_of_candidates.push_back(life[st]);
    keys.push_back(static_cast<int32_t>(it - devices.begin()));
  }
  const PhasedArenas layout =
      lay_out_in_phases(life_of_candidates, keys, others, static_cast<int32_t>(g.nodes().size()));
  for (size_t a = 0; a < layout.arena_bytes.size(); ++a) {
    p.arenas.push_back({devices[static_cast<size_t>(layout.arena_key[a])], layout.arena_bytes[a], 0});
    p.arena_bytes += layout.arena_bytes[a];
  }
  p.arena_phases = layout.phases;
  p.arena_peak_bytes = layout.peak;
  std::vector<int32_t> arena_of(num_storages, -1);
  std::vector<int64_t> offset(num_storages, -1);
  std::vector<size_t> placed;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (layout.arena[i] < 0) continue;
    arena_of[candidates[i]] = layout.arena[i];
    offset[candidates[i]] = layout.offsets[i];
    ++p.arenas[static_cast<size_t>(layout.arena[i])].results;
    placed.push_back(candidates[i]);
  }
  // Where the executor makes each placed storage: at the node (or group) of the value allocating it.
  for (size_t st : placed) {
    const auto s = static_cast<size_t>(first[st]);
    const ValueId v = f.maker[s];
    const auto at = static_cast<size_t>(f.def[s]);
    if (fusion && fusion->group_of[at] >= 0) {
      const auto gi = static_cast<size_t>(fusion->group_of[at]);
      const auto& outs = fusion->groups[gi].outputs;
      const auto k = static_cast<size_t>(std::find(outs.begin(), outs.end(), v) - outs.begin());
      p.group_place[gi][k] = {arena_of[st], offset[st]};
    } else {
      p.node_arena[at] = arena_of[st];
      p.node_offset[at] = offset[st];
    }
    ++p.placed;
  }
}

void reuse_dying_inputs(const Graph& g, const FusionPlan* fusion, const SetFacts& f, MemoryPlan& p) {
  const auto& nodes = g.nodes();
  auto set_of = [&](ValueId v) { return static_cast<size_t>(g.value(v).alias); };
  std::vector<bool> taken(f.def.size(), false);  // per alias set: a later result took its storage
  auto take = [&](ValueId out, ValueId in) {
    taken[set_of(in)] = true;
    p.storage[set_of(out)] = p.storage[set_of(in)];
    ++p.reused;
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    const auto at = static_cast<int32_t>(i);
    if (fusion && fusion->group_of[i] >= 0) {
      const auto gi = static_cast<size_t>(fusion->group_of[i]);
      const FusedGroup& grp = fusion->groups[gi];
      if (grp.nodes.back() != at) continue;  // the group runs at its last node
      const PointwiseProgram& prog = grp.program;
      for (size_t k = 0; k < grp.outputs.size(); ++k) {
        const int32_t slot = prog.outputs[k];
        for (int32_t j = 0; j < prog.num_inputs; ++j) {
          const ValueId in = grp.inputs[static_cast<size_t>(j)];
          if (taken[set_of(in)] || !can_take(g, f, in, grp.outputs[k], at) || g.value(in).sizes != prog.sizes ||
              prog.slot_dtypes[static_cast<size_t>(j)] != prog.slot_dtypes[static_cast<size_t>(slot)])
            continue;
          // The program writes output k chunk by chunk as its step runs: no later step may read the input, and no
          // other input slot may read the same storage.
          bool read_later = false;
          for (size_t s = static_cast<size_t>(slot - prog.num_inputs) + 1; s < prog.steps.size(); ++s)
            for (int32_t a : prog.steps[s].in) read_later = read_later || a == j;
          for (int32_t j2 = 0; j2 < prog.num_inputs; ++j2)
            read_later = read_later || (j2 != j && set_of(grp.inputs[static_cast<size_t>(j2)]) == set_of(in));
          if (read_later) continue;
          p.group_reuse[gi][k] = j;
          take(grp.outputs[k], in);
          break;
        }
      }
      continue;
    }
    const OpDef& def = op_def(n.op);
    if (n.target != kNoValue || def.kind != OpKind::Primitive || def.mutates || n.outputs.empty() ||
        (!def.strided_out && !def.out_reuses_in))
      continue;
    auto allowed = [&](size_t k) { return def.strided_out || (def.out_reuses_in >> k & 1u); };
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const ValueId in = n.inputs[k];
      if (in == kNoValue || !allowed(k) || taken[set_of(in)] || !can_take(g, f, in, n.outputs[0], at)) continue;
      // Every input in that storage must be one the row allows and laid out as the output.
      bool ok = true;
      for (size_t k2 = 0; k2 < n.inputs.size(); ++k2) {
        const ValueId x = n.inputs[k2];
        if (x == kNoValue || set_of(x) != set_of(in)) continue;
        const Value &a = g.value(x), &b = g.value(in);
        ok = ok && allowed(k2) && a.sizes == b.sizes && a.strides == b.strides && a.offset == b.offset;
      }
      if (!ok) continue;
      p.reuse[i] = static_cast<int32_t>(k);
      take(n.outputs[0], in);
      break;
    }
  }
  p.peak_bytes = peak_of(f, p.storage, nodes.size());
}


}  // namespace

MemoryPlan plan_memory(const Graph& g, const FusionPlan* fusion, MemoryPlanOptions options) {
  const SetFacts f = set_facts(g, fusion);
  const auto& nodes = g.nodes();
  MemoryPlan p;
  p.reuse.assign(nodes.size(), -1);
  p.node_arena.assign(nodes.size(), -1);
  p.node_offset.assign(nodes.size(), -1);
  p.storage.resize(f.def.size());
  std::iota(p.storage.begin(), p.storage.end(), 0);
  p.storage_bytes = f.bytes;
  p.peak_bytes = p.peak_bytes_without = peak_of(f, p.storage, nodes.size());
  if (fusion) {
    p.group_reuse.resize(fusion->groups.size());
    p.group_place.resize(fusion->groups.size());
    for (size_t gi = 0; gi < fusion->groups.size(); ++gi) {
      p.group_reuse[gi].assign(fusion->groups[gi].outputs.size(), -1);
      p.group_place[gi].assign(fusion->groups[gi].outputs.size(), {-1, -1});
    }
  }
  if (options.reuse) reuse_dying_inputs(g, fusion, f, p);
  if (options.arena) place_in_arenas(g, fusion, f, p);
  return p;
}


std::string MemoryPlan::str() const {
  std::string s = fmt::format("{} results written into dying inputs; intermediates peak at {:.1f} MB ({:.1f} MB "
                              "without)", reused, static_cast<double>(peak_bytes) / 1e6,
                              static_cast<double>(peak_bytes_without) / 1e6);
  if (placed)
    s += fmt::format("; {} results in {} arena{} of {:.1f} MB ({} phase{}), peak {:.1f} MB with them", placed,
                     arenas.size(), arenas.size() == 1 ? "" : "s", static_cast<double>(arena_bytes) / 1e6,
                     arena_phases, arena_phases == 1 ? "" : "s", static_cast<double>(arena_peak_bytes) / 1e6);
  return s;
}

}  // namespace ds::graph
