// Common subexpression elimination (passes.h). Values are SSA, but a tensor's storage can be written in place through
// another value of its alias set (a view, a new version), so a node's key holds, for each input, how many writes
// its alias set had seen: two equal calls with a write to an input's storage between them are not merged. A node
// whose result is written in place anywhere in the graph keeps its own storage (merging would share the write);
// views own no storage, so equal views of one base merge.
#include <bit>
#include <unordered_map>
#include <vector>

#include "passes.h"

namespace ds::graph {

namespace {

struct Key {
  OpId op;
  const Attrs* attrs;
  std::vector<int64_t> inputs;  // (value, writes to its alias set so far) pairs, flattened
  bool operator==(const Key& o) const { return op == o.op && inputs == o.inputs && *attrs == *o.attrs; }
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = static_cast<size_t>(k.op) * 0x9e3779b97f4a7c15ull ^ k.attrs->hash();
    for (int64_t v : k.inputs) h = h * 1000003u ^ static_cast<size_t>(v);
    return h;
  }
};

// Random ops and ops that write are never merged.
bool mergeable(const Node& n) {
  const OpDef& def = op_def(n.op);
  return n.target == kNoValue && def.mutates == 0 && n.op != OpId::rand && n.op != OpId::randn &&
         n.op != OpId::randint;
}

}  // namespace

std::vector<bool> written_alias_sets(const Graph& g) {
  std::vector<bool> w;
  auto mark = [&](ValueId v) {
    const auto a = static_cast<size_t>(g.value(v).alias);
    if (a >= w.size()) w.resize(a + 1, false);
    w[a] = true;
  };
  for (const Node& n : g.nodes()) {
    if (n.target != kNoValue) mark(n.target);
    for (uint32_t m = op_def(n.op).mutates; m; m &= m - 1) mark(n.inputs[static_cast<size_t>(std::countr_zero(m))]);
  }
  return w;
}

int eliminate_common_subexpressions(Graph& g) {
  std::vector<int64_t> writes;  // per alias set
  auto writes_of = [&](ValueId v) -> int64_t& {
    const auto a = static_cast<size_t>(g.value(v).alias);
    if (a >= writes.size()) writes.resize(a + 1, 0);
    return writes[a];
  };
  const std::vector<bool> written = written_alias_sets(g);
  auto owns_written_storage = [&](const Node& n) {
    if (op_def(n.op).kind == OpKind::View) return false;
    for (ValueId v : n.outputs) {
      const auto a = static_cast<size_t>(g.value(v).alias);
      if (a < written.size() && written[a]) return true;
    }
    return false;
  };
  std::unordered_map<Key, size_t, KeyHash> seen;
  std::vector<Node>& nodes = g.mutable_nodes();
  std::vector<bool> drop(nodes.size(), false);
  int merged = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node& n = nodes[i];
    if (n.target != kNoValue) ++writes_of(n.target);
    for (uint32_t m = op_def(n.op).mutates; m; m &= m - 1)
      ++writes_of(n.inputs[static_cast<size_t>(std::countr_zero(m))]);
    if (!mergeable(n) || owns_written_storage(n)) continue;
    Key key{n.op, &n.attrs, {}};
    for (ValueId v : n.inputs) {
      key.inputs.push_back(v);
      key.inputs.push_back(v == kNoValue ? 0 : writes_of(v));
    }
    const auto [it, fresh] = seen.emplace(std::move(key), i);
    if (fresh) continue;
    const Node& first = nodes[it->second];
    if (owns_written_storage(first)) continue;
    for (size_t k = 0; k < n.outputs.size(); ++k) g.replace_all_uses(n.outputs[k], first.outputs[k]);
    drop[i] = true;
    ++merged;
  }
  if (merged) g.erase_nodes(drop);
  return merged;
}

}  // namespace ds::graph
