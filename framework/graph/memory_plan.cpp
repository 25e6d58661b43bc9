#include "memory_plan.h"

#include <algorithm>
#include <climits>
#include <numeric>

#include <fmt/format.h>

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
};

SetFacts set_facts(const Graph& g, const FusionPlan* fusion) {
  const std::vector<int32_t> last = last_reads_by_alias_set(g);
  const size_t n = last.size();
  SetFacts f{last, std::vector<int32_t>(n, -1), std::vector<int64_t>(n, 0)};
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
    }
  if (fusion) {  // a group's values live in its chunk buffers, except its outputs, made when the group runs
    for (const FusedGroup& grp : fusion->groups) {
      for (int32_t j : grp.nodes)
        for (ValueId v : nodes[static_cast<size_t>(j)].outputs) f.bytes[static_cast<size_t>(g.value(v).alias)] = 0;
      for (ValueId v : grp.outputs) {
        const auto s = static_cast<size_t>(g.value(v).alias);
        f.bytes[s] = span_bytes(g.value(v));
        f.def[s] = grp.nodes.back();
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

int64_t peak_of(const SetFacts& f, const std::vector<int32_t>& storage, size_t num_nodes) {
  // Each storage lives from the first node allocating one of its sets to the last reading one.
  std::vector<int32_t> begin(storage.size(), INT_MAX), end(storage.size(), -1);
  std::vector<int64_t> bytes(storage.size(), 0);
  for (size_t s = 0; s < storage.size(); ++s) {
    if (f.def[s] < 0 || f.bytes[s] == 0) continue;
    const auto st = static_cast<size_t>(storage[s]);
    begin[st] = std::min(begin[st], f.def[s]);
    end[st] = std::max(end[st], std::min<int32_t>(std::max(f.last_read[s], f.def[s]), static_cast<int32_t>(num_nodes)));
    bytes[st] = std::max(bytes[st], f.bytes[s]);
  }
  std::vector<int64_t> delta(num_nodes + 2, 0);
  for (size_t st = 0; st < storage.size(); ++st) {
    if (end[st] < 0) continue;
    delta[static_cast<size_t>(begin[st])] += bytes[st];
    delta[static_cast<size_t>(end[st]) + 1] -= bytes[st];
  }
  int64_t live = 0, peak = 0;
  for (int64_t d : delta) peak = std::max(peak, live += d);
  return peak;
}

}  // namespace

MemoryPlan plan_memory(const Graph& g, const FusionPlan* fusion, bool reuse) {
  const SetFacts f = set_facts(g, fusion);
  const auto& nodes = g.nodes();
  MemoryPlan p;
  p.reuse.assign(nodes.size(), -1);
  p.storage.resize(f.def.size());
  std::iota(p.storage.begin(), p.storage.end(), 0);
  p.storage_bytes = f.bytes;
  p.peak_bytes = p.peak_bytes_without = peak_of(f, p.storage, nodes.size());
  if (fusion) p.group_reuse.resize(fusion->groups.size());
  if (!reuse) return p;
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
      p.group_reuse[gi].assign(grp.outputs.size(), -1);
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
  return p;
}

std::string MemoryPlan::str() const {
  return fmt::format("{} results written into dying inputs; intermediates peak at {:.1f} MB ({:.1f} MB without)",
                     reused, static_cast<double>(peak_bytes) / 1e6, static_cast<double>(peak_bytes_without) / 1e6);
}

}  // namespace ds::graph
