// The graph passes (framework/graph/passes/): what each removes, and that a replay after them still gives eager's
// values, including where storage is written in place (CSE must not merge across writes, nor merge a tensor that is
// written later).
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/graph/executor.h>
#include <ds/graph/passes/passes.h>
#include <ds/graph/trace.h>

using namespace ds;
using namespace ds::graph;

namespace {

template <typename F>
Graph trace_of(const Tensor& x, F f) {
  Tracer t({&x, 1});
  const Tensor y = f(x);
  return t.finish({&y, 1});
}

int count(const Graph& g, OpId op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op;
  return n;
}

bool same(const Tensor& a, const Tensor& b) { return a.to(kF64).tolist<double>() == b.to(kF64).tolist<double>(); }

}  // namespace

TEST_CASE("dead code: unread nodes go, writes to the program's tensors stay", "[graph][passes]") {
  Tensor state = zeros({3});
  auto f = [&](const Tensor& x) {
    const Tensor unused = exp(x) + 1.0;
    state.add_(x);  // read by nobody in the graph, but the program sees it
    return x * 2.0;
  };
  const Tensor x = full({3}, 1.5);
  Graph g = trace_of(x, f);
  const size_t before = g.nodes().size();
  const int removed = eliminate_dead_code(g);
  CHECK(removed >= 2);  // exp and the add that used it (and the cast of 1.0)
  CHECK(g.nodes().size() == before - static_cast<size_t>(removed));
  CHECK(count(g, OpId::exp) == 0);
  g.verify();
  const Tensor x2 = full({3}, 2.0);
  const Tensor y = execute(g, {&x2, 1})[0];
  CHECK(y.tolist<float>() == std::vector<float>{4, 4, 4});
  CHECK(state.tolist<float>() == std::vector<float>{3.5, 3.5, 3.5});  // 1.5 traced, then 2.0 replayed
}

TEST_CASE("common subexpressions: equal calls merge, with eager's values", "[graph][passes]") {
  auto f = [](const Tensor& x) { return exp(x) * 3.0 + exp(x) + x.t().t() + x.t().t(); };
  const Tensor x = full({2, 2}, 0.5);
  Graph g = trace_of(x, f);
  CHECK(count(g, OpId::exp) == 2);
  CHECK(eliminate_common_subexpressions(g) >= 3);  // the second exp and both second transposes
  CHECK(count(g, OpId::exp) == 1);
  eliminate_dead_code(g);
  g.verify();
  const Tensor x2 = full({2, 2}, -1.25);
  CHECK(same(execute(g, {&x2, 1})[0], f(x2)));
}

TEST_CASE("common subexpressions: never across a write to an input's storage", "[graph][passes]") {
  Tensor c = ones({4});
  auto f = [&](const Tensor& x) {
    const Tensor v = c.view({2, 2});
    const Tensor y1 = v * 2.0;
    c.add_(x);  // writes the storage v reads
    const Tensor y2 = v * 2.0;
    return y1 + y2 * 10.0;
  };
  const Tensor x = ones({4});
  Graph g = trace_of(x, f);
  eliminate_common_subexpressions(g);
  CHECK(count(g, OpId::mul) == 3);  // v * 2 twice (not merged) and y2 * 10
  c.fill_(1.0);
  const Tensor y = execute(g, {&x, 1})[0];
  CHECK(y.tolist<float>() == std::vector<float>{42, 42, 42, 42});  // 2 + 10 * 4
}

TEST_CASE("common subexpressions: a tensor written later keeps its own storage", "[graph][passes]") {
  auto f = [](const Tensor& x) {
    Tensor a = zeros({3}), b = zeros({3});
    a.add_(x);
    return a + b;
  };
  const Tensor x = full({3}, 2.0);
  Graph g = trace_of(x, f);
  INFO(g.str());
  eliminate_common_subexpressions(g);
  CHECK(count(g, OpId::full) == 2);
  const Tensor x2 = full({3}, 5.0);
  CHECK(execute(g, {&x2, 1})[0].tolist<float>() == std::vector<float>{5, 5, 5});
}

TEST_CASE("simplify: x * 1, x + 0 and a double transpose go, with eager's values", "[graph][passes]") {
  auto f = [](const Tensor& x) { return ((exp(x) * 1.0 + 0.0).t().t() - 0.0) * 2.0; };
  const Tensor x = full({2, 3}, 0.25);
  Graph g = trace_of(x, f);
  INFO(g.str());
  const int changed = simplify(g);
  CHECK(changed == 4);  // * 1, + 0, - 0, the second transpose
  eliminate_dead_code(g);
  g.verify();
  CHECK(count(g, OpId::permute) == 0);
  CHECK(count(g, OpId::add) == 0);
  CHECK(count(g, OpId::sub) == 0);
  CHECK(count(g, OpId::mul) == 1);
  const Tensor x2 = full({2, 3}, -0.5);
  CHECK(same(execute(g, {&x2, 1})[0], f(x2)));
}

TEST_CASE("simplify: not where the result is written, promoted or the caller's own tensor", "[graph][passes]") {
  auto written = [](const Tensor& x) {
    const Tensor e = exp(x);
    Tensor y = e * 1.0;
    y.add_(1.0);  // y must stay its own tensor: e is read below
    return y + e;
  };
  const Tensor x = full({3}, 0.5);
  Graph g = trace_of(x, written);
  CHECK(simplify(g) == 0);
  const Tensor x2 = full({3}, 1.5);
  CHECK(same(execute(g, {&x2, 1})[0], written(x2)));
  // An integer tensor times 1.0 becomes float: the rule's cast is its own node, which stays; the product goes.
  const Tensor xi = full({3}, 2, {.dtype = kI64});
  auto promoted = [](const Tensor& t) { return (t + 1) * 1.0; };
  Graph gi = trace_of(xi, promoted);
  CHECK(simplify(gi) == 1);
  CHECK(count(gi, OpId::copy) >= 1);
  const Tensor xi2 = full({3}, 7, {.dtype = kI64});
  const Tensor yi = execute(gi, {&xi2, 1})[0];
  CHECK(yi.dtype() == kF32);
  CHECK(same(yi, promoted(xi2)));
  // x * 1 of the argument itself would return the argument: kept.
  Graph ga = trace_of(x, [](const Tensor& t) { return t * 1.0; });
  CHECK(simplify(ga) == 0);
}

TEST_CASE("simplify: a view that changes nothing goes, and a chain of reshapes reads its root", "[graph][passes]") {
  auto f = [](const Tensor& x) {
    const Tensor y = exp(x);
    return y.view({12}).view({2, 6}).unsqueeze(0).view({3, 4}).squeeze(0) * 2.0;  // squeeze(0): size 3, no-op
  };
  const Tensor x = full({12}, 0.5);
  Graph g = trace_of(x, f);
  INFO(g.str());
  CHECK(count(g, OpId::view) + count(g, OpId::unsqueeze) + count(g, OpId::squeeze) == 5);
  simplify(g);
  eliminate_dead_code(g);
  g.verify();
  // view({12}) of a [12] and squeeze(0) of a [3, 4] change nothing; view({3, 4}) of unsqueeze of view of exp(x)
  // becomes one view of exp(x).
  CHECK(count(g, OpId::view) == 1);
  CHECK(count(g, OpId::unsqueeze) + count(g, OpId::squeeze) == 0);
  const Tensor x2 = full({12}, -1.5);
  CHECK(same(execute(g, {&x2, 1})[0], f(x2)));
  CHECK(execute(g, {&x2, 1})[0].sizes() == Shape{3, 4});
}

TEST_CASE("constant folding: casts of host numbers and factories run once, with eager's values", "[graph][passes]") {
  auto f = [](const Tensor& x) {
    const Tensor pos = arange(0, 4).to(kF32).view({1, 4}) * 0.5;  // built from constants alone
    return x * 3.0 + pos;
  };
  const Tensor x = full({2, 4}, 0.25);
  Graph g = trace_of(x, f);
  INFO(g.str());
  const size_t before = g.nodes().size();
  const size_t captured = g.captured().size();
  const int folded = fold_constants(g);
  eliminate_dead_code(g);
  g.verify();
  INFO(g.str());
  CHECK(folded >= 3);  // arange, its cast, the view, the product (and the casts of 0.5 and 3.0)
  CHECK(g.nodes().size() == before - static_cast<size_t>(folded));
  CHECK(g.nodes().size() == 2);  // x * 3 and the sum
  CHECK(g.captured().size() > captured);
  const Tensor x2 = full({2, 4}, -2.0);
  CHECK(same(execute(g, {&x2, 1})[0], f(x2)));
}

TEST_CASE("constant folding: not what is written in place, the caller's outputs or large", "[graph][passes]") {
  auto accumulate = [](const Tensor& x) {
    Tensor acc = zeros({3});  // fresh on every run: it is written below
    acc.add_(x);
    return acc * 2.0;
  };
  const Tensor x = full({3}, 0.5);
  Graph g = trace_of(x, accumulate);
  fold_constants(g);
  CHECK(count(g, OpId::full) == 1);
  const Tensor x2 = full({3}, 1.5);
  CHECK(same(execute(g, {&x2, 1})[0], accumulate(x2)));
  CHECK(same(execute(g, {&x2, 1})[0], accumulate(x2)));  // the same again: the zeros were not kept
  // A constant returned to the caller stays a node: the caller may write to it.
  Tracer t({&x, 1});
  const TensorList ys = {zeros({3}), x + 1.0};
  Graph go = t.finish(ys);
  const size_t before = go.nodes().size();
  fold_constants(go);
  CHECK(go.nodes().size() == before - 1);  // only the cast of 1.0
  // Above max_bytes: kept.
  Graph gl = trace_of(x, [](const Tensor& t) { return t + ones({3}); });
  CHECK(fold_constants(gl, 8) == 0);
}
