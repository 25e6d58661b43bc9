#include "fusion.h"

#include <map>
#include <optional>

#include <fmt/format.h>

namespace ds::graph {
namespace {

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t x : s) n *= x;
  return n;
}

bool broadcasts_to(const Shape& s, const Shape& to) {
  if (s.size() > to.size()) return false;
  const size_t off = to.size() - s.size();
  for (size_t d = 0; d < s.size(); ++d)
    if (s[d] != to[off + d] && s[d] != 1) return false;
  return true;
}

// What a node contributes to a group, if it may join one.
struct Candidate {
  Shape sizes;                  // its output's
  DType dtype = kF32;           // its compute dtype
  std::vector<DType> operands;  // the dtype each input is computed in (bool for where's condition)
  bool flat = true;             // every input full-shape contiguous, or one element
  bool exact = false;
};

std::optional<Candidate> candidate(const Graph& g, const Node& n) {
  const OpDef& def = op_def(n.op);
  if (!def.pointwise || n.target != kNoValue || def.mutates || n.outputs.size() != 1) return std::nullopt;
  const Value& out = g.value(n.outputs[0]);
  if (out.device != kCPU || !is_contiguous(out) || numel(out.sizes) == 0) return std::nullopt;
  Candidate c{out.sizes, out.dtype, {}, true, def.pointwise->exact};
  if (out.dtype == kBool) {  // a comparison: it computes in its full inputs' dtype
    std::optional<DType> t;
    for (ValueId v : n.inputs)
      if (v != kNoValue && numel(g.value(v).sizes) != 1) t = g.value(v).dtype;
    if (!t) return std::nullopt;
    c.dtype = *t;
  }
  if (c.dtype != kF32 && c.dtype != kF64) return std::nullopt;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (n.inputs[i] == kNoValue) return std::nullopt;
    const Value& v = g.value(n.inputs[i]);
    const DType want = n.op == OpId::where && i == 0 ? kBool : c.dtype;
    c.operands.push_back(want);
    if (v.device != kCPU) return std::nullopt;
    if (numel(v.sizes) == 1 && v.sizes.size() <= out.sizes.size()) continue;  // converted as the rule casts it
    if (v.dtype != want || !broadcasts_to(v.sizes, out.sizes)) return std::nullopt;
    c.flat = c.flat && v.sizes == out.sizes && is_contiguous(v);
  }
  return c;
}

struct Open {
  std::vector<int32_t> nodes;
  Shape sizes;
  DType dtype = kF32;
  bool flat = true, inexact = false;
};

}  // namespace

FusionPlan plan_fusion(const Graph& g) {
  const auto& nodes = g.nodes();
  FusionPlan plan;
  plan.group_of.assign(nodes.size(), -1);
  // The last node reading each value; values read by actions or returned escape every group.
  std::vector<int32_t> last_read(g.num_values(), -1);
  std::vector<bool> escapes(g.num_values(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (ValueId v : nodes[i].inputs)
      if (v != kNoValue) last_read[static_cast<size_t>(v)] = static_cast<int32_t>(i);
    if (nodes[i].target != kNoValue) last_read[static_cast<size_t>(nodes[i].target)] = static_cast<int32_t>(i);
  }
  for (const Action& a : g.actions())
    if (!a.host && a.grad != kNoValue) escapes[static_cast<size_t>(a.grad)] = true;
  for (ValueId v : g.outputs()) escapes[static_cast<size_t>(v)] = true;

  std::vector<std::optional<Candidate>> cands(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) cands[i] = candidate(g, nodes[i]);

  auto close = [&](Open& o) {
    if (o.nodes.size() >= 2) {
      FusedGroup grp;
      grp.nodes = o.nodes;
      PointwiseProgram& p = grp.program;
      p.sizes = o.sizes;
      p.dtype = o.dtype;
      const int32_t last = o.nodes.back();
      std::map<ValueId, int32_t> produced;  // value made inside the group -> its slot
      std::map<std::pair<ValueId, DType>, int32_t> input_slot;
      // Inputs first (slots 0..), in order of first use.
      for (int32_t i : o.nodes) {
        const Node& n = nodes[static_cast<size_t>(i)];
        for (size_t k = 0; k < n.inputs.size(); ++k) {
          const ValueId v = n.inputs[k];
          const DType want = cands[static_cast<size_t>(i)]->operands[k];
          if (produced.contains(v) || input_slot.contains({v, want})) continue;
          input_slot[{v, want}] = static_cast<int32_t>(grp.inputs.size());
          grp.inputs.push_back(v);
          p.slot_dtypes.push_back(want);
        }
        produced[n.outputs[0]] = -1;  // its slot is known once the inputs are all counted
      }
      p.num_inputs = static_cast<int32_t>(grp.inputs.size());
      produced.clear();
      for (int32_t i : o.nodes) {
        const Node& n = nodes[static_cast<size_t>(i)];
        PointwiseProgram::Step s{n.op, n.attrs, {}};
        for (size_t k = 0; k < n.inputs.size(); ++k) {
          const ValueId v = n.inputs[k];
          const auto it = produced.find(v);
          s.in.push_back(it != produced.end() ? it->second
                                              : input_slot.at({v, cands[static_cast<size_t>(i)]->operands[k]}));
        }
        const auto slot = static_cast<int32_t>(p.slot_dtypes.size());
        const ValueId out = n.outputs[0];
        produced[out] = slot;
        p.slot_dtypes.push_back(g.value(out).dtype);
        p.steps.push_back(std::move(s));
        if (escapes[static_cast<size_t>(out)] || last_read[static_cast<size_t>(out)] > last) {
          p.outputs.push_back(slot);
          grp.outputs.push_back(out);
        }
      }
      const auto id = static_cast<int32_t>(plan.groups.size());
      for (int32_t i : o.nodes) plan.group_of[static_cast<size_t>(i)] = id;
      plan.fused_nodes += static_cast<int64_t>(o.nodes.size());
      plan.groups.push_back(std::move(grp));
    }
    o = Open{};
  };

  // A node that only makes a single element from constants or arguments (the cast of a scalar the program passed)
  // may sit between a group's nodes: it runs at its place, and the group at its last node, after it.
  auto transparent = [&](const Node& n) {
    if (!n.actions.empty() || n.target != kNoValue || op_def(n.op).mutates) return false;
    for (ValueId v : n.outputs)
      if (numel(g.value(v).sizes) != 1) return false;
    for (ValueId v : n.inputs)
      if (v != kNoValue && g.value(v).kind == ValueKind::Result) return false;
    return true;
  };
  Open cur;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::optional<Candidate>& c = cands[i];
    const bool joins = c && !cur.nodes.empty() && nodes[i].actions.empty() && c->sizes == cur.sizes &&
                       c->dtype == cur.dtype && (c->exact || (cur.flat && c->flat)) && (!cur.inexact || c->flat);
    if (!joins && !cur.nodes.empty() && transparent(nodes[i])) continue;
    if (!joins) {
      close(cur);
      if (!c) continue;
      cur.sizes = c->sizes;
      cur.dtype = c->dtype;
    }
    cur.nodes.push_back(static_cast<int32_t>(i));
    cur.flat = cur.flat && c->flat;
    cur.inexact = cur.inexact || !c->exact;
  }
  close(cur);
  return plan;
}

std::string FusionPlan::str() const {
  std::string s = fmt::format("{} groups of {} nodes", groups.size(), fused_nodes);
  for (const FusedGroup& g : groups)
    s += fmt::format("\n  [{}-{}] {}", g.nodes.front(), g.nodes.back(), g.program.str());
  return s;
}

}  // namespace ds::graph
