#include "ir.h"

#include <algorithm>
#include <bit>
#include <limits>

#include <fmt/format.h>

#include <ds/core/detail/check.h>

namespace ds::graph {

namespace {

std::string_view short_name(DType t) {
  switch (t) {
#define DS_DTYPE_SHORT(name, type, size) case DType::name: return #name;
    DS_DTYPES(DS_DTYPE_SHORT)
#undef DS_DTYPE_SHORT
  }
  return "?";
}

std::string dims_str(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out;
}

std::string ref(ValueId v) { return v == kNoValue ? std::string("none") : fmt::format("%{}", v); }

std::string refs(std::span<const ValueId> vs) {
  std::string out;
  for (size_t i = 0; i < vs.size(); ++i) out += (i ? ", " : "") + ref(vs[i]);
  return out;
}

}  // namespace

int64_t bytes_of(const Value& v) {
  int64_t n = static_cast<int64_t>(itemsize(v.dtype));
  for (int64_t s : v.sizes) n *= s;
  return n;
}

std::vector<int32_t> last_reads_by_alias_set(const Graph& g) {
  int32_t sets = 0;
  for (size_t v = 0; v < g.num_values(); ++v) sets = std::max(sets, g.value(static_cast<ValueId>(v)).alias + 1);
  std::vector<int32_t> last(static_cast<size_t>(sets), -1);
  auto read = [&](ValueId v, int32_t at) {
    int32_t& l = last[static_cast<size_t>(g.value(v).alias)];
    l = std::max(l, at);
  };
  const auto& nodes = g.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (ValueId v : nodes[i].inputs)
      if (v != kNoValue) read(v, static_cast<int32_t>(i));
    if (nodes[i].target != kNoValue) read(nodes[i].target, static_cast<int32_t>(i));
  }
  constexpr int32_t kForever = std::numeric_limits<int32_t>::max();
  for (ValueId v : g.outputs()) read(v, kForever);
  for (const Action& a : g.actions())
    if (!a.host) read(a.grad, kForever), read(a.leaf, kForever);
  for (ValueId v : g.inputs()) read(v, kForever);
  for (ValueId v : g.captured_values()) read(v, kForever);
  for (ValueId v : g.rng_values()) read(v, kForever);
  return last;
}

bool is_contiguous(const Value& v) {
  int64_t expect = 1;
  for (size_t d = v.sizes.size(); d-- > 0;) {
    if (v.sizes[d] != 1 && v.strides[d] != expect) return false;
    expect *= v.sizes[d];
  }
  return true;
}

std::string type_str(const Value& v) {
  std::string s = fmt::format("{}[{}]", short_name(v.dtype), dims_str(v.sizes));
  if (v.strides != contiguous_strides(v.sizes)) s += "(" + dims_str(v.strides) + ")";
  if (v.offset) s += fmt::format("+{}", v.offset);
  if (!v.device.is_cpu()) s += " " + v.device.str();
  return s;
}

ValueId Graph::new_value(Value v) {
  values_.push_back(std::move(v));
  return static_cast<ValueId>(values_.size() - 1);
}

namespace {
Value meta_of(const Tensor& t, ValueKind kind, int32_t index, int32_t alias) {
  Value v;
  v.kind = kind;
  v.sizes = Shape(t.sizes());
  v.strides = Shape(t.strides());
  v.offset = t.storage_offset();
  v.dtype = t.dtype();
  v.device = t.device();
  v.index = index;
  v.alias = alias;
  return v;
}
}  // namespace

ValueId Graph::add_input(const Tensor& t) {
  const ValueId v = new_value(meta_of(t, ValueKind::Input, static_cast<int32_t>(inputs_.size()), alias_sets_++));
  inputs_.push_back(v);
  return v;
}

ValueId Graph::add_captured(const Tensor& t) {
  const ValueId v =
      new_value(meta_of(t, ValueKind::Captured, static_cast<int32_t>(captured_.size()), alias_sets_++));
  captured_.push_back(t);
  captured_values_.push_back(v);
  return v;
}

ValueId Graph::add_rng(const Tensor& state, Generator& g, uint64_t counters) {
  const ValueId v = new_value(meta_of(state, ValueKind::Rng, static_cast<int32_t>(rng_.size()), alias_sets_++));
  rng_.push_back({&g, counters, g.lifetime()});
  rng_values_.push_back(v);
  return v;
}

void Graph::freeze_dead_rng(std::span<const Tensor> states) {
  DS_CHECK(states.size() == rng_.size(), "graph", "{} RNG states for {} draws", states.size(), rng_.size());
  std::vector<RngDraw> live;
  std::vector<ValueId> live_values;
  for (size_t i = 0; i < rng_.size(); ++i) {
    Value& v = values_[static_cast<size_t>(rng_values_[i])];
    if (rng_[i].alive.expired()) {
      v.kind = ValueKind::Captured;
      v.index = static_cast<int32_t>(captured_.size());
      captured_.push_back(states[i]);
      captured_values_.push_back(rng_values_[i]);
    } else {
      v.index = static_cast<int32_t>(live.size());
      live.push_back(rng_[i]);
      live_values.push_back(rng_values_[i]);
    }
  }
  rng_ = std::move(live);
  rng_values_ = std::move(live_values);
}

std::span<const ValueId> Graph::add_node(OpId op, Attrs attrs, std::span<const ValueId> inputs,
                                         std::span<const Tensor> outs, std::span<const ValueId> alias_of,
                                         ValueId target) {
  Node n;
  n.op = op;
  n.attrs = std::move(attrs);
  n.inputs = SmallVec<ValueId, 4>(inputs);
  n.target = target;
  n.actions = std::move(trailing_actions_);
  trailing_actions_.clear();
  const auto index = static_cast<int32_t>(nodes_.size());
  for (size_t k = 0; k < outs.size(); ++k) {
    const ValueId base = k < alias_of.size() ? alias_of[k] : kNoValue;
    const int32_t alias = base == kNoValue ? alias_sets_++ : value(base).alias;
    Value v = meta_of(outs[k], ValueKind::Result, static_cast<int32_t>(k), alias);
    v.node = index;
    n.outputs.push_back(new_value(std::move(v)));
  }
  nodes_.push_back(std::move(n));
  return nodes_.back().outputs;
}

void Graph::add_effect(std::function<void()> effect) {
  actions_.push_back(Action{.host = std::move(effect)});
  trailing_actions_.push_back(static_cast<int32_t>(actions_.size() - 1));
}

void Graph::add_host_read(ValueId v, std::string what) {
  host_reads_.push_back(
      {static_cast<int32_t>(nodes_.size()), static_cast<int32_t>(actions_.size()), v, std::move(what)});
}

Graph Graph::before_host_read() const {
  DS_CHECK(!host_reads_.empty(), "graph", "the graph has no host read to stop before");
  const HostRead& r = host_reads_.front();
  Graph g = *this;
  g.nodes_.resize(static_cast<size_t>(r.node));
  g.outputs_.clear();
  g.host_reads_.clear();
  // The actions recorded before the read, renumbered; later ones are dropped.
  std::vector<int32_t> renumbered(actions_.size(), -1);
  g.actions_.clear();
  for (size_t a = 0; a < static_cast<size_t>(r.action); ++a) {
    renumbered[a] = static_cast<int32_t>(g.actions_.size());
    g.actions_.push_back(actions_[a]);
  }
  auto keep = [&](const std::vector<int32_t>& list) {
    std::vector<int32_t> out;
    for (int32_t a : list)
      if (renumbered[static_cast<size_t>(a)] >= 0) out.push_back(renumbered[static_cast<size_t>(a)]);
    return out;
  };
  for (Node& n : g.nodes_) n.actions = keep(n.actions);
  // Actions after the last node kept: those attached to the first node dropped, or trailing.
  g.trailing_actions_ = keep(static_cast<size_t>(r.node) < nodes_.size() ? nodes_[static_cast<size_t>(r.node)].actions
                                                                          : trailing_actions_);
  return g;
}

std::string Graph::host_read_str() const {
  if (host_reads_.empty()) return "";
  const HostRead& r = host_reads_.front();
  const Value& v = value(r.value);
  std::string of;
  switch (v.kind) {
    case ValueKind::Input: of = fmt::format("argument {}", v.index); break;
    case ValueKind::Captured: of = fmt::format("a captured tensor {}", type_str(v)); break;
    case ValueKind::Rng: of = "a random state"; break;
    case ValueKind::Result:
      of = fmt::format("the output of {} (node {})", op_def(nodes_[static_cast<size_t>(v.node)].op).name, v.node);
      break;
  }
  return fmt::format("{} reads {} after {} of the graph's {} nodes", r.what, of, r.node, nodes_.size());
}

void Graph::set_grad(ValueId leaf, ValueId grad) {
  actions_.push_back(Action{.leaf = leaf, .grad = grad});
  trailing_actions_.push_back(static_cast<int32_t>(actions_.size() - 1));
}

std::vector<std::pair<ValueId, ValueId>> Graph::grads() const {
  std::vector<std::pair<ValueId, ValueId>> out;
  for (const Action& a : actions_)
    if (!a.host) out.emplace_back(a.leaf, a.grad);
  return out;
}

void Graph::erase_nodes(const std::vector<bool>& drop) {
  std::vector<Node> kept;
  kept.reserve(nodes_.size());
  std::vector<int32_t> carried;  // actions of dropped nodes, for the next node kept
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    if (i < drop.size() && drop[i]) {
      carried.insert(carried.end(), n.actions.begin(), n.actions.end());
      continue;
    }
    if (!carried.empty()) {
      carried.insert(carried.end(), n.actions.begin(), n.actions.end());
      n.actions = std::move(carried);
      carried.clear();
    }
    kept.push_back(std::move(n));
  }
  carried.insert(carried.end(), trailing_actions_.begin(), trailing_actions_.end());
  trailing_actions_ = std::move(carried);
  nodes_ = std::move(kept);
  renumber();
}

std::span<const ValueId> Graph::insert_node_copy(size_t before, size_t of, std::span<const ValueId> inputs) {
  DS_CHECK(of < nodes_.size() && before <= nodes_.size(), "graph", "cannot copy node {} before node {} of {}", of,
           before, nodes_.size());
  const Node& src = nodes_[of];
  const OpDef& def = op_def(src.op);
  DS_CHECK(src.target == kNoValue && def.mutates == 0, "graph", "node {} ({}) writes in place and cannot be copied", of,
           def.name);
  DS_CHECK(inputs.size() == src.inputs.size(), "graph", "node {} ({}) reads {} values, the copy was given {}", of,
           def.name, src.inputs.size(), inputs.size());
  Node n;
  n.op = src.op;
  n.attrs = src.attrs;
  n.inputs = SmallVec<ValueId, 4>(inputs);
  const SmallVec<ValueId, 2> outs = src.outputs;
  for (size_t k = 0; k < outs.size(); ++k) {
    Value v = value(outs[k]);
    v.alias = def.kind == OpKind::View && k == 0 ? value(inputs[0]).alias : alias_sets_++;
    n.outputs.push_back(new_value(std::move(v)));
  }
  nodes_.insert(nodes_.begin() + static_cast<std::ptrdiff_t>(before), std::move(n));
  renumber();
  return nodes_[before].outputs;
}

void Graph::renumber() {
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (ValueId v : nodes_[i].outputs) values_[static_cast<size_t>(v)].node = static_cast<int32_t>(i);
}

namespace {

// The value whose storage output k of n shares, as the tracer records it: an in-place target's (output 0), a view's
// input's (output 0), an input the kernel updates in place (the outputs after the op's own); kNoValue for fresh
// storage.
ValueId storage_source(const Node& n, size_t k) {
  const OpDef& def = op_def(n.op);
  if (k == 0 && n.target != kNoValue) return n.target;
  if (k == 0 && def.kind == OpKind::View) return n.inputs[0];
  const size_t own = n.outputs.size() - static_cast<size_t>(std::popcount(def.mutates));
  if (k < own) return kNoValue;
  uint32_t m = def.mutates;
  for (size_t j = own; j < k; ++j) m &= m - 1;
  return n.inputs[static_cast<size_t>(std::countr_zero(m))];
}

}  // namespace

void Graph::replace_all_uses(ValueId from, ValueId to) {
  for (Node& n : nodes_) {
    for (ValueId& v : n.inputs)
      if (v == from) v = to;
    if (n.target == from) n.target = to;
  }
  for (ValueId& v : outputs_)
    if (v == from) v = to;
  for (Action& a : actions_)
    if (a.grad == from) a.grad = to;
  // A view of `from` (or a write into it) now views `to`: its storage is to's. Sets are derived again in node order,
  // keeping the numbers of fresh storages, so per-set tables a pass holds stay indexed the same.
  for (const Node& n : nodes_)
    for (size_t k = 0; k < n.outputs.size(); ++k)
      if (const ValueId src = storage_source(n, k); src != kNoValue)
        values_[static_cast<size_t>(n.outputs[k])].alias = value(src).alias;
}

void Graph::verify() const {
  std::vector<bool> defined(values_.size(), false);
  for (ValueId v : inputs_) defined[static_cast<size_t>(v)] = true;
  for (ValueId v : captured_values_) defined[static_cast<size_t>(v)] = true;
  for (ValueId v : rng_values_) defined[static_cast<size_t>(v)] = true;
  auto check_use = [&](ValueId v, size_t node, std::string_view what) {
    DS_CHECK(v == kNoValue || (v >= 0 && static_cast<size_t>(v) < values_.size() && defined[static_cast<size_t>(v)]),
             "graph", "node {} ({}) uses {} %{} before it is defined", node, op_name(nodes_[node].op), what, v);
  };
  auto check_action = [&](int32_t a, size_t before) {
    DS_CHECK(a >= 0 && static_cast<size_t>(a) < actions_.size(), "graph", "action {} out of range", a);
    const Action& x = actions_[static_cast<size_t>(a)];
    if (x.host) return;
    DS_CHECK(x.leaf >= 0 && static_cast<size_t>(x.leaf) < values_.size() && value(x.leaf).kind == ValueKind::Captured,
             "graph", "the gradient %{} is set on %{}, which is not a captured tensor", x.grad, x.leaf);
    DS_CHECK(x.grad >= 0 && static_cast<size_t>(x.grad) < values_.size() && defined[static_cast<size_t>(x.grad)],
             "graph", "the gradient %{} of %{} is set before node {} but not defined there", x.grad, x.leaf, before);
  };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    const OpDef& def = op_def(n.op);
    DS_CHECK(n.attrs.schema() == def.attrs, "graph", "node {} ({}) has attributes {} but its row takes {}", i,
             def.name, n.attrs.schema() ? n.attrs.schema()->type_name : "(none)",
             def.attrs ? def.attrs->type_name : "(none)");
    for (int32_t a : n.actions) check_action(a, i);
    for (ValueId v : n.inputs) check_use(v, i, "input");
    check_use(n.target, i, "target");
    for (ValueId v : n.outputs) {
      DS_CHECK(v >= 0 && static_cast<size_t>(v) < values_.size() && !defined[static_cast<size_t>(v)], "graph",
               "node {} ({}) defines %{} twice or out of range", i, def.name, v);
      DS_CHECK(value(v).node == static_cast<int32_t>(i), "graph", "%{} says node {} made it, not node {}", v,
               value(v).node, i);
      defined[static_cast<size_t>(v)] = true;
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const ValueId src = storage_source(n, k);
      DS_CHECK(src == kNoValue || value(n.outputs[k]).alias == value(src).alias, "graph", "node {} ({}): %{} shares "
               "the storage of %{} but is in alias set {}, not {}", i, def.name, n.outputs[k], src,
               value(n.outputs[k]).alias, value(src).alias);
    }
  }
  for (int32_t a : trailing_actions_) check_action(a, nodes_.size());
  for (ValueId v : outputs_)
    DS_CHECK(v >= 0 && static_cast<size_t>(v) < values_.size() && defined[static_cast<size_t>(v)], "graph",
             "graph output %{} is not defined", v);
}

std::string Graph::action_str(int32_t a) const {
  const Action& x = actions_[static_cast<size_t>(a)];
  return x.host ? fmt::format("  host effect {}\n", a) : fmt::format("  %{}.grad = %{}\n", x.leaf, x.grad);
}

std::string Graph::str() const {
  std::string s = "graph(";
  for (size_t i = 0; i < inputs_.size(); ++i)
    s += fmt::format("{}%{}: {}", i ? ", " : "", inputs_[i], type_str(value(inputs_[i])));
  s += ") {\n";
  for (size_t i = 0; i < captured_values_.size(); ++i)
    s += fmt::format("  %{}: {} = captured {}\n", captured_values_[i], type_str(value(captured_values_[i])), i);
  for (size_t i = 0; i < rng_values_.size(); ++i)
    s += fmt::format("  %{}: {} = rng {{counters={}}}\n", rng_values_[i], type_str(value(rng_values_[i])),
                     rng_[i].counters);
  for (const Node& n : nodes_) {
    for (int32_t a : n.actions) s += action_str(a);
    std::string outs;
    for (size_t k = 0; k < n.outputs.size(); ++k)
      outs += fmt::format("{}%{}: {}", k ? ", " : "", n.outputs[k], type_str(value(n.outputs[k])));
    s += fmt::format("  {} = {}({})", outs, op_name(n.op), refs(n.inputs));
    if (!n.attrs.empty()) s += " {" + n.attrs.str() + "}";
    if (n.target != kNoValue) s += fmt::format(" into %{}", n.target);
    s += "\n";
  }
  for (int32_t a : trailing_actions_) s += action_str(a);
  s += "  return (" + refs(outputs_) + ")\n}\n";
  return s;
}

std::string Graph::dot() const {
  std::string s = "digraph ds {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n";
  for (ValueId v : inputs_) s += fmt::format("  v{} [shape=ellipse, label=\"input %{}\"];\n", v, v);
  for (ValueId v : captured_values_) s += fmt::format("  v{} [shape=ellipse, label=\"captured %{}\"];\n", v, v);
  for (ValueId v : rng_values_) s += fmt::format("  v{} [shape=ellipse, label=\"rng %{}\"];\n", v, v);
  auto source = [&](ValueId v) {
    const Value& x = value(v);
    return x.kind == ValueKind::Result ? fmt::format("n{}", x.node) : fmt::format("v{}", v);
  };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    std::string label(op_name(n.op));
    if (!n.attrs.empty()) label += "\\n" + n.attrs.str();
    s += fmt::format("  n{} [shape=box, label=\"{}\"];\n", i, label);
    for (ValueId v : n.inputs)
      if (v != kNoValue) s += fmt::format("  {} -> n{} [label=\"%{} {}\"];\n", source(v), i, v, type_str(value(v)));
    if (n.target != kNoValue) s += fmt::format("  {} -> n{} [style=dashed, label=\"into\"];\n", source(n.target), i);
  }
  for (size_t k = 0; k < outputs_.size(); ++k) {
    s += fmt::format("  out{} [shape=ellipse, label=\"output {}\"];\n", k, k);
    s += fmt::format("  {} -> out{} [label=\"%{}\"];\n", source(outputs_[k]), k, outputs_[k]);
  }
  return s + "}\n";
}

}  // namespace ds::graph
