// The executor's memory plan (framework/graph/memory_plan.h) and the rematerialisation pass (passes.h): which results
// take a dying input's storage and which never may, the planned and measured peaks, and replays that equal eager
// runs bit for bit with the reuse and the recomputation in place.
#include <vector>

#include <catch2/catch.hpp>

#include "../test_util.h"
#include "graph_test_util.h"

#include <ds/ds.h>
#include <ds/graph/executor.h>
#include <ds/graph/fusion.h>
#include <ds/graph/memory_plan.h>
#include <ds/graph/passes/passes.h>
#include <ds/graph/trace.h>

using namespace ds;
using namespace ds::graph;
using namespace ds::graph::testing;
using Catch::Matchers::Contains;

namespace {

void check_same(const TensorList& a, const TensorList& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(equal_bits(a[i], b[i]));
}

TensorList replay(const Graph& g, const std::vector<Tensor>& xs, ExecStats* st = nullptr,
                  const FusionPlan* fusion = nullptr, const MemoryPlan* memory = nullptr) {
  return execute(g, xs, st, false, fusion, memory);
}

int node_of(const Graph& g, OpId op, int nth = 0) {
  for (size_t i = 0; i < g.nodes().size(); ++i)
    if (g.nodes()[i].op == op && nth-- == 0) return static_cast<int>(i);
  return -1;
}

}  // namespace

TEST_CASE("memory plan: an elementwise chain writes each result over its dying input, bitwise as eager",
          "[graph][memory]") {
  auto f = [](const std::vector<Tensor>& x) { return TensorList{relu(exp(x[0] * 2.0) - 1.0)}; };
  const Graph g = trace_of({randn_of({64, 1000}, 1)}, f);
  const MemoryPlan plan = plan_memory(g);
  // mul reads the argument (the caller's): fresh. exp, sub and relu each take their dying input.
  CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::mul))] == -1);
  CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::exp))] == 0);
  CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::sub))] == 0);
  CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::relu))] == 0);
  CHECK(plan.reused == 3);
  // One buffer passed along, against an input and its result (and, in both, the 4-byte casts of the scalars).
  const int64_t bytes = 64 * 1000 * 4;
  CHECK(plan.peak_bytes >= bytes);
  CHECK(plan.peak_bytes < bytes + 64);
  CHECK(plan.peak_bytes_without >= 2 * bytes);
  CHECK(plan.peak_bytes_without < 2 * bytes + 64);
  CHECK_THAT(plan.str(), Contains("3 results written into dying inputs"));

  const Tensor x = randn_of({64, 1000}, 2);
  ExecStats with, without;
  const Tensor a = replay(g, {x}, &with, nullptr, &plan)[0];
  const Tensor b = replay(g, {x}, &without)[0];
  CHECK(equal_bits(a, f({x})[0]));
  CHECK(equal_bits(b, f({x})[0]));
  CHECK(with.reused_outputs == 3);
  CHECK(without.reused_outputs == 0);
  CHECK(with.peak_live_bytes == plan.peak_bytes);  // the executor holds what the plan said
  CHECK(without.peak_live_bytes == plan.peak_bytes_without);
  CHECK(equal_bits(x, randn_of({64, 1000}, 2)));  // the argument is untouched
  CHECK_FALSE(a.impl()->is_view());  // the result is a tensor of its own, not the dead input's handle
}

TEST_CASE("memory plan: a result written over a view's storage is not itself a view", "[graph][memory]") {
  auto f = [](const std::vector<Tensor>& x) { return TensorList{relu(exp(x[0]).reshape({50, 40}))}; };
  const Graph g = trace_of({randn_of({40, 50}, 25)}, f);
  const MemoryPlan plan = plan_memory(g);
  CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::relu))] == 0);  // over the reshaped exp
  const Tensor x = randn_of({40, 50}, 26);
  ExecStats st;
  const Tensor y = replay(g, {x}, &st, nullptr, &plan)[0];
  CHECK(st.reused_outputs == 1);  // exp reads the argument: fresh
  CHECK(equal_bits(y, f({x})[0]));
  CHECK_FALSE(y.impl()->is_view());
}

TEST_CASE("memory plan: values read later, outputs, broadcast operands and other shapes keep their storage",
          "[graph][memory]") {
  SECTION("a value read later, or returned, is not overwritten") {
    auto f = [](const std::vector<Tensor>& x) {
      const Tensor a = exp(x[0]);
      const Tensor b = a * 3.0;  // a is read again below
      const Tensor c = tanh(b);  // b dies here: c takes it
      return TensorList{c + a, a};
    };
    const Graph g = trace_of({randn_of({100, 100}, 3)}, f);
    const MemoryPlan plan = plan_memory(g);
    CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::mul))] == -1);
    CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::tanh))] == 0);
    CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::add))] == 0);  // c, not a (an output)
    const Tensor x = randn_of({100, 100}, 4);
    const TensorList got = replay(g, {x}, nullptr, nullptr, &plan);
    check_same(got, f({x}));
  }
  SECTION("a broadcast operand or a result of another shape or dtype is not taken") {
    auto f = [](const std::vector<Tensor>& x) {
      const Tensor s = exp(x[1]);             // [1, 50], broadcast below
      const Tensor y = x[0] * s;              // [40, 50]
      const Tensor m = y.sum(1, true) * 2.0;  // [40, 1]
      const Tensor h = (y > 0.0);             // bool: not y's dtype
      return TensorList{where(h, y + m, s)};
    };
    const Graph g = trace_of({randn_of({40, 50}, 5), randn_of({1, 50}, 6)}, f);
    const MemoryPlan plan = plan_memory(g);
    CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::mul, 0))] == -1);  // s broadcasts, x[0] is an argument
    CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::gt))] == -1);      // bool result
    CHECK(plan.reuse[static_cast<size_t>(node_of(g, OpId::add))] == 0);      // y dies here (m broadcasts)
    const std::vector<Tensor> xs{randn_of({40, 50}, 7), randn_of({1, 50}, 8)};
    check_same(replay(g, xs, nullptr, nullptr, &plan), f(xs));
  }
}

TEST_CASE("memory plan: the cross-entropy backward writes the logits' gradient over the logits",
          "[graph][memory]") {
  auto f = [](const std::vector<Tensor>& x) {
    const Tensor logits = matmul(x[0], x[1]);
    const Tensor loss = cross_entropy(logits, x[2]);
    return TensorList{loss.detach(), ds::grad({loss}, {x[1]})[0]};
  };
  const Tensor w = randn_of({32, 500}, 10).requires_grad_();
  const Tensor target = randint(0, 500, {64}, {.dtype = kI64});
  const Graph g = trace_of({randn_of({64, 32}, 9), w, target}, f);
  const MemoryPlan plan = plan_memory(g);
  const int ce = node_of(g, OpId::softmax_cross_entropy_backward);
  REQUIRE(ce >= 0);
  CHECK(plan.reuse[static_cast<size_t>(ce)] == 1);  // input 1: the logits, whose last reader it is
  const std::vector<Tensor> xs{randn_of({64, 32}, 11), w, target};
  const TensorList got = replay(g, xs, nullptr, nullptr, &plan);
  check_same(got, f(xs));
}

TEST_CASE("memory plan: a fused group writes its output over a dying input", "[graph][memory][fusion]") {
  auto f = [](const std::vector<Tensor>& x) {
    const Tensor y = exp(x[0]);  // inexact: its own node before the broadcasting group
    return TensorList{relu(y * x[1] + x[2])};
  };
  const std::vector<Tensor> xs{randn_of({8, 16, 9, 9}, 12), randn_of({1, 16, 1, 1}, 13), randn_of({1, 16, 1, 1}, 14)};
  const Graph g = trace_of(xs, f);
  const FusionPlan fusion = plan_fusion(g);
  REQUIRE(fusion.groups.size() == 1);
  const MemoryPlan plan = plan_memory(g, &fusion);
  REQUIRE(plan.group_reuse.size() == 1);
  CHECK(plan.group_reuse[0] == std::vector<int32_t>{0});  // slot 0 holds y
  ExecStats st;
  const Tensor got = replay(g, xs, &st, &fusion, &plan)[0];
  CHECK(st.reused_outputs == 1);
  CHECK(equal_bits(got, f(xs)[0]));
  // A plan made without the fusion plan does not fit the fused run: the executor measures without reusing.
  const MemoryPlan unfused = plan_memory(g);
  ExecStats st2;
  CHECK(equal_bits(replay(g, xs, &st2, &fusion, &unfused)[0], got));
  CHECK(st2.reused_outputs == 0);
}

TEST_CASE("call_op_into: refuses an output of the wrong shape or an input the kernel may not overwrite",
          "[graph][memory]") {
  NoGradGuard no_grad;
  const Tensor a = randn({4, 5}), b = randn({5, 3});
  CHECK_THROWS_WITH(call_op_into(OpId::add, empty({4, 4}), std::vector<Tensor>{a, a}, {}),
                    Contains("output 0 is float32 [4, 5]") && Contains("given for it is float32 [4, 4]"));
  const Tensor sq = randn({5, 5});
  CHECK_THROWS_WITH(call_op_into(OpId::matmul, sq, std::vector<Tensor>{sq, sq}, {}),
                    Contains("input 0 shares the storage"));
  const Tensor out = call_op_into(OpId::add, a, std::vector<Tensor>{a, a}, {})[0];
  CHECK(out.data() == a.data());
}

TEST_CASE("call_op_into: two-pass formulas written over their own input equal the out-of-place result",
          "[graph][memory]") {
  NoGradGuard no_grad;
  // exp fixes up inputs below -88.38 (float) after its vectorised pass; gelu's tanh-form backward stores t first.
  Tensor x = randn_of({3, 700}, 23) * 40.0;
  const Tensor want_exp = exp(x);
  const Tensor over = x.clone();
  call_op_into(OpId::exp, over, std::vector<Tensor>{over}, {});
  CHECK(equal_bits(over, want_exp));
  const Tensor g = randn_of({3, 700}, 24);
  const Attrs tanh_form = GeluAttrs{.tanh = true};
  const Tensor want = call_op1(OpId::gelu_backward, {g, x}, tanh_form);
  for (int k = 0; k < 2; ++k) {
    std::vector<Tensor> ins{g.clone(), x.clone()};
    call_op_into(OpId::gelu_backward, ins[static_cast<size_t>(k)], ins, tanh_form);
    INFO("written over input " << k);
    CHECK(equal_bits(ins[static_cast<size_t>(k)], want));
  }
}

TEST_CASE("remat: an elementwise result read again much later is recomputed there", "[graph][remat]") {
  // t = x - mean is read at once and again after a long chain that does not touch it; x is read there anyway.
  auto f = [](const std::vector<Tensor>& x) {
    const Tensor t = x[0] - x[1];
    Tensor z = t * 0.5;
    for (int i = 0; i < 20; ++i) z = z * 1.01;
    return TensorList{z + t * x[0]};
  };
  const std::vector<Tensor> xs{randn_of({64, 1024}, 15), randn_of({1, 1024}, 16)};
  Graph g = trace_of(xs, f);
  const size_t before = g.nodes().size();
  CHECK(rematerialize(g) == 1);
  g.verify();
  REQUIRE(g.nodes().size() == before + 1);
  const int first = node_of(g, OpId::sub, 0), second = node_of(g, OpId::sub, 1);
  REQUIRE(second > first + 16);
  CHECK(g.nodes()[static_cast<size_t>(second + 1)].op == OpId::mul);  // just before its late reader
  CHECK(g.value(g.nodes()[static_cast<size_t>(second + 1)].inputs[0]).node == second);
  // The original is read only at the start: it is not held across the chain.
  const ValueId t = g.nodes()[static_cast<size_t>(first)].outputs[0];
  for (size_t j = static_cast<size_t>(first) + 3; j < g.nodes().size(); ++j)
    for (ValueId v : g.nodes()[j].inputs) CHECK(v != t);
  const std::vector<Tensor> ys{randn_of({64, 1024}, 17), randn_of({1, 1024}, 18)};
  CHECK(equal_bits(replay(g, ys)[0], f(ys)[0]));
  CHECK(rematerialize(g) == 0);  // nothing left to recompute
}

TEST_CASE("remat: no recomputation when an input would have to be kept, or the gap is short", "[graph][remat]") {
  SECTION("the input dies right after: keeping it costs what the result saves") {
    auto f = [](const std::vector<Tensor>& x) {
      const Tensor y = x[0] * 2.0;
      const Tensor t = exp(y);  // y is read nowhere else
      Tensor z = t * 0.5;
      for (int i = 0; i < 20; ++i) z = z * 1.01;
      return TensorList{z + t};
    };
    Graph g = trace_of({randn_of({64, 1024}, 19)}, f);
    CHECK(rematerialize(g) == 0);
  }
  SECTION("a short gap") {
    auto f = [](const std::vector<Tensor>& x) {
      const Tensor t = x[0] - 1.0;
      return TensorList{(t * 0.5 + 1.0) * t};
    };
    Graph g = trace_of({randn_of({64, 1024}, 20)}, f);
    CHECK(rematerialize(g) == 0);
  }
  SECTION("small results are kept") {
    auto f = [](const std::vector<Tensor>& x) {
      const Tensor t = x[0] - x[1];
      Tensor z = t * 0.5;
      for (int i = 0; i < 20; ++i) z = z * 1.01;
      return TensorList{z + t * x[0]};
    };
    Graph g = trace_of({randn_of({4, 16}, 21), randn_of({1, 16}, 22)}, f);
    CHECK(rematerialize(g) == 0);
  }
}
