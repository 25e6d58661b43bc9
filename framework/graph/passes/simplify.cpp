// Algebraic simplification (passes.h): x * 1, x / 1, x + 0, x - 0 by a scalar constant become x; a permute of a
// permute that together restore the order becomes the original value; a view that changes no size or stride is its
// input, and a chain of reshapes (view, squeeze, unsqueeze) of a contiguous value is one view of it. A result that some node writes in place keeps
// its own storage (it is not replaced by its input, which the write would then change).
#include <bit>
#include <optional>
#include <vector>

#include "passes.h"

namespace ds::graph {

namespace {

// The value of a 0-d scalar constant the program passed (a wrapped number: made from a C++ number for this call
// and never written), possibly cast by a copy node, or nothing.
std::optional<double> scalar_constant(const Graph& g, ValueId v) {
  if (v == kNoValue) return std::nullopt;
  const Value& meta = g.value(v);
  // The rule's cast of such a number to the other operand's dtype (a copy node).
  if (meta.kind == ValueKind::Result && meta.sizes.empty()) {
    const Node& n = g.nodes()[static_cast<size_t>(meta.node)];
    if (n.op != OpId::copy || n.target != kNoValue) return std::nullopt;
    const auto c = scalar_constant(g, n.inputs[0]);
    if (c && (*c == 0.0 || *c == 1.0)) return c;  // exact in every dtype
    return std::nullopt;
  }
  if (meta.kind != ValueKind::Captured || !meta.sizes.empty()) return std::nullopt;
  const Tensor& t = g.captured()[static_cast<size_t>(meta.index)];
  if (!t.impl()->is_wrapped_number() || !t.is_cpu()) return std::nullopt;
  return t.to(kF64).item<double>();
}

bool same_meta(const Value& a, const Value& b) {
  return a.sizes == b.sizes && a.dtype == b.dtype && a.device == b.device;
}

}  // namespace

int simplify(Graph& g) {
  const std::vector<bool> written = written_alias_sets(g);
  auto is_written = [&](ValueId v) {
    const auto a = static_cast<size_t>(g.value(v).alias);
    return a < written.size() && written[a];
  };
  std::vector<Node>& nodes = g.mutable_nodes();
  std::vector<bool> drop(nodes.size(), false);
  int changed = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.target != kNoValue || n.outputs.size() != 1) continue;
    const ValueId out = n.outputs[0];
    ValueId keep = kNoValue;
    switch (n.op) {
      case OpId::mul:
      case OpId::div:
      case OpId::add:
      case OpId::sub: {
        const double identity = n.op == OpId::mul || n.op == OpId::div ? 1.0 : 0.0;
        const auto c = scalar_constant(g, n.inputs[1]);
        if (c && *c == identity) keep = n.inputs[0];
        // 1 * x and 0 + x (not for div and sub, which are not commutative).
        const auto c0 = scalar_constant(g, n.inputs[0]);
        if (keep == kNoValue && c0 && *c0 == identity && (n.op == OpId::mul || n.op == OpId::add)) keep = n.inputs[1];
        // The result must be the kept value as it is (no promotion, no broadcast) and owned by nobody who writes.
        // (and made by a node: an argument or a captured tensor would become the caller's result itself).
        if (keep != kNoValue &&
            (!same_meta(g.value(keep), g.value(out)) || is_written(out) || is_written(keep) ||
             g.value(keep).kind != ValueKind::Result))
          keep = kNoValue;
        break;
      }
      case OpId::permute: {
        const ValueId in = n.inputs[0];
        const Value& src = g.value(in);
        if (src.kind != ValueKind::Result) break;
        const Node& before = nodes[static_cast<size_t>(src.node)];
        if (before.op != OpId::permute || drop[static_cast<size_t>(src.node)]) break;
        const Shape& p1 = before.attrs.get<DimsAttrs>().dims;
        const Shape& p2 = n.attrs.get<DimsAttrs>().dims;
        bool identity = p1.size() == p2.size();
        for (size_t k = 0; identity && k < p2.size(); ++k)
          identity = p2[k] >= 0 && p2[k] < static_cast<int64_t>(p1.size()) &&
                     p1[static_cast<size_t>(p2[k])] == static_cast<int64_t>(k);
        const ValueId base = before.inputs[0];
        if (identity && g.value(base).strides == g.value(out).strides && g.value(base).offset == g.value(out).offset &&
            same_meta(g.value(base), g.value(out)))
          keep = base;
        break;
      }
      case OpId::view:
      case OpId::squeeze:
      case OpId::unsqueeze:
      case OpId::expand: {
        const ValueId in = n.inputs[0];
        const Value &src = g.value(in), &dst = g.value(out);
        if (src.kind != ValueKind::Result) break;
        // A view that changes nothing is its input.
        if (src.sizes == dst.sizes && src.strides == dst.strides && src.offset == dst.offset) {
          keep = in;
          break;
        }
        // A reshape of a reshape of a contiguous value is one reshape of that value (the first may then die).
        const Node& before = nodes[static_cast<size_t>(src.node)];
        const bool reshapes = before.op == OpId::view || before.op == OpId::squeeze || before.op == OpId::unsqueeze;
        if (n.op == OpId::expand || !reshapes || drop[static_cast<size_t>(src.node)]) break;
        const ValueId root = before.inputs[0];
        if (!is_contiguous(g.value(root)) || !is_contiguous(dst) || g.value(root).offset != dst.offset) break;
        Node& rewritten = nodes[i];
        rewritten.op = OpId::view;
        rewritten.attrs = ShapeAttrs{.shape = dst.sizes};
        rewritten.inputs[0] = root;
        ++changed;
        break;
      }
      default: break;
    }
    if (keep == kNoValue) continue;
    g.replace_all_uses(out, keep);
    drop[i] = true;
    ++changed;
  }
  if (changed) g.erase_nodes(drop);
  return changed;
}

}  // namespace ds::graph
