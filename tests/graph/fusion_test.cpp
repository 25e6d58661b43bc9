// Pointwise fusion (framework/graph/fusion.h) and its CPU interpreter (ops/pointwise_program.h): which nodes group,
// which values a group writes, and replays that equal the node-by-node run bit for bit, including formulas whose
// SIMD and scalar forms differ (exp, tanh, gelu) over lengths that leave scalar tails and split over two threads.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../test_util.h"
#include "graph_test_util.h"

#include <ds/ds.h>
#include <ds/graph/compile.h>
#include <ds/graph/executor.h>
#include <ds/graph/fusion.h>
#include <ds/graph/trace.h>
#include <ds/ops/pointwise_program.h>

using namespace ds;
using namespace ds::graph;
using namespace ds::graph::testing;
using Catch::Matchers::Contains;

namespace {

std::vector<OpId> ops_of(const Graph& g, const FusedGroup& grp) {
  std::vector<OpId> ops;
  for (int32_t i : grp.nodes) ops.push_back(g.nodes()[static_cast<size_t>(i)].op);
  return ops;
}

// Replays g fused and node by node on xs; both must equal eager f(xs) bitwise. Returns the fused run's stats.
template <typename F>
ExecStats check_replay(const Graph& g, const FusionPlan& plan, const std::vector<Tensor>& xs, F f) {
  ExecStats st;
  const Tensor fused = execute(g, xs, &st, false, &plan)[0];
  const Tensor plain = execute(g, xs)[0];
  const Tensor eager = f(xs);
  CHECK(equal_bits(fused, eager));
  CHECK(equal_bits(plain, eager));
  return st;
}

}  // namespace

TEST_CASE("fusion: exact ops over a per-channel broadcast form one group that writes only its result",
          "[graph][fusion]") {
  auto f = [](const std::vector<Tensor>& x) { return relu(x[0] * x[1] + x[2]); };
  const Graph g = trace_of({randn_of({4, 8, 5, 5}, 1), randn_of({1, 8, 1, 1}, 2), randn_of({1, 8, 1, 1}, 3)}, f);
  const FusionPlan plan = plan_fusion(g);
  REQUIRE(plan.groups.size() == 1);
  CHECK(plan.fused_nodes == 3);
  const FusedGroup& grp = plan.groups[0];
  CHECK(ops_of(g, grp) == std::vector<OpId>{OpId::mul, OpId::add, OpId::relu});
  CHECK(grp.outputs.size() == 1);
  CHECK(grp.program.str() == "float32[4, 8, 5, 5] in(3) s3 = mul(s0, s1); s4 = add(s3, s2); s5 = relu(s4) -> s5");
  const ExecStats st = check_replay(g, plan, {randn_of({4, 8, 5, 5}, 4), randn_of({1, 8, 1, 1}, 5),
                                              randn_of({1, 8, 1, 1}, 6)}, f);
  CHECK(st.fused_nodes == 3);
}

TEST_CASE("fusion: exp, tanh and gelu fuse in flat groups, bitwise equal to eager on 1 and 2 threads",
          "[graph][fusion]") {
  auto f = [](const std::vector<Tensor>& x) {
    const Tensor t = tanh(exp(x[0]) * 0.5);
    return t + gelu_tanh(x[0]);
  };
  const int threads = get_num_threads();
  for (DType dt : {kF32, kF64}) {
    INFO(dtype_name(dt));
    // 37,039 elements: over the 32,768 that one thread takes, and not a multiple of any SIMD width.
    const Graph g = trace_of({randn_of({3, 12346 + 1}, 7, dt)}, f);
    const FusionPlan plan = plan_fusion(g);
    REQUIRE(plan.groups.size() == 1);
    CHECK(ops_of(g, plan.groups[0]) == std::vector<OpId>{OpId::exp, OpId::mul, OpId::tanh, OpId::gelu, OpId::add});
    const Tensor x = randn_of({3, 12347}, 8, dt) * 4.0;
    set_num_threads(1);
    const Tensor one = f({x});
    check_replay(g, plan, {x}, f);
    set_num_threads(2);
    const Tensor two = f({x});
    const ExecStats st = check_replay(g, plan, {x}, f);
    set_num_threads(threads);
    CHECK(st.fused_nodes == 5);
    CHECK(equal_bits(one, two));  // elementwise kernels split work at aligned offsets: no dependence on threads
  }
}

TEST_CASE("fusion: an inexact op does not join a broadcasting group; values read later are written",
          "[graph][fusion]") {
  SECTION("exp after a broadcast multiply starts a new group") {
    auto f = [](const std::vector<Tensor>& x) { return exp(x[0] * x[1]) * 2.0; };
    const Graph g = trace_of({randn_of({6, 40}, 9), randn_of({40}, 10)}, f);
    const FusionPlan plan = plan_fusion(g);
    REQUIRE(plan.groups.size() == 1);
    CHECK(ops_of(g, plan.groups[0]) == std::vector<OpId>{OpId::exp, OpId::mul});
    check_replay(g, plan, {randn_of({6, 40}, 11), randn_of({40}, 12)}, f);
  }
  SECTION("a value a reduction reads after the group is one of its outputs") {
    auto f = [](const std::vector<Tensor>& x) {
      const Tensor e = exp(x[0]);
      const Tensor y = e * 3.0;
      return y + e.sum();
    };
    const Graph g = trace_of({randn_of({5, 7}, 13)}, f);
    const FusionPlan plan = plan_fusion(g);
    REQUIRE(plan.groups.size() == 1);
    CHECK(ops_of(g, plan.groups[0]) == std::vector<OpId>{OpId::exp, OpId::mul});
    CHECK(plan.groups[0].outputs.size() == 2);  // e (for the sum) and y (for the add)
    check_replay(g, plan, {randn_of({5, 7}, 14)}, f);
  }
  SECTION("a chain through a view is cut at the view; exact ops read the transposed value through a buffer") {
    auto f = [](const std::vector<Tensor>& x) { return (relu(x[0] * 2.0).t() + 1.0) * 3.0; };
    const Graph g = trace_of({randn_of({4, 6}, 15)}, f);
    const FusionPlan plan = plan_fusion(g);
    REQUIRE(plan.groups.size() == 2);
    CHECK(ops_of(g, plan.groups[0]) == std::vector<OpId>{OpId::mul, OpId::relu});
    CHECK(plan.groups[0].outputs.size() == 1);  // relu's result, which the transpose views
    CHECK(ops_of(g, plan.groups[1]) == std::vector<OpId>{OpId::add, OpId::mul});
    check_replay(g, plan, {randn_of({4, 6}, 16)}, f);
  }
}

TEST_CASE("fusion: relu's backward (a comparison and a selection) fuses through a bool slot", "[graph][fusion]") {
  auto f = [](const std::vector<Tensor>& x) { return where(x[0] > 0, x[1], 0.0); };
  const Graph g = trace_of({randn_of({33, 17}, 17), randn_of({33, 17}, 18)}, f);
  const FusionPlan plan = plan_fusion(g);
  REQUIRE(plan.groups.size() == 1);
  CHECK(ops_of(g, plan.groups[0]) == std::vector<OpId>{OpId::gt, OpId::where});
  Tensor x = randn_of({33, 17}, 19);
  x.view({-1}).narrow(0, 0, 3).fill_(0.0);
  x.view({-1}).narrow(0, 3, 1).fill_(std::nan(""));
  check_replay(g, plan, {x, randn_of({33, 17}, 20)}, f);
}

TEST_CASE("run_pointwise_program: hand-computed values, a one-element input converted, and refusals",
          "[graph][fusion]") {
  PointwiseProgram p;
  p.sizes = {2, 3};
  p.dtype = kF64;
  p.num_inputs = 2;
  p.slot_dtypes = {kF64, kF64, kF64, kF64};
  p.steps.push_back({OpId::mul, {}, {0, 1}});  // s2 = a * b
  p.steps.push_back({OpId::add, {}, {2, 0}});  // s3 = s2 + a
  p.outputs = {3};
  const Tensor a = arange(1, 7, 1, TensorOptions{.dtype = kF64}).view({2, 3});
  const Tensor b = scalar_tensor(2, {.dtype = kI64});  // converted to float64, as mul's rule would cast it
  const Tensor out = empty({2, 3}, {.dtype = kF64});
  run_pointwise_program(p, TensorList{a, b}, {&out, 1});
  CHECK(out.tolist<double>() == std::vector<double>{3, 6, 9, 12, 15, 18});
  const Tensor column = arange(1, 3, 1, TensorOptions{.dtype = kF64}).view({2, 1});  // broadcast along rows
  run_pointwise_program(p, TensorList{column, full({}, 10.0, {.dtype = kF64})}, {&out, 1});
  CHECK(out.tolist<double>() == std::vector<double>{11, 11, 11, 22, 22, 22});
  CHECK(p.str() == "float64[2, 3] in(2) s2 = mul(s0, s1); s3 = add(s2, s0) -> s3");

  const Tensor wrong = empty({3, 2}, {.dtype = kF64});
  CHECK_THROWS_WITH(run_pointwise_program(p, TensorList{a, b}, {&wrong, 1}),
                    Contains("output 0 must be a contiguous CPU float64 tensor of shape [2, 3], got float64 [3, 2]"));
  const TensorList transposed{a.t(), b}, in_f32{a.to(kF32), b}, one{a};
  CHECK_THROWS_WITH(run_pointwise_program(p, transposed, {&out, 1}), Contains("does not broadcast to [2, 3]"));
  CHECK_THROWS_WITH(run_pointwise_program(p, in_f32, {&out, 1}), Contains("input 0 must be float64"));
  CHECK_THROWS_WITH(run_pointwise_program(p, one, {&out, 1}), Contains("expects 2 inputs and 1 outputs, got 1"));
}

TEST_CASE("fusion: ds::compile fuses by default, not with fuse = false; a plan fits only its graph",
          "[graph][fusion][compile]") {
  Tensor w = randn_of({16}, 21);
  auto step = [&](std::span<const Tensor> x) { return TensorList{relu(x[0] * w + 1.0)}; };
  for (bool fuse : {true, false}) {
    INFO("fuse " << fuse);
    NoGradGuard no_grad;
    CompiledFunction f = compile(step, {.warmup = 0, .fuse = fuse, .name = "fusion"});
    const Tensor x = randn_of({8, 16}, 22);
    f({x});
    CHECK(f.stats().fused_nodes == (fuse ? 3 : 0));  // mul, add, relu (the cast of 1.0 runs between them)
    const Tensor x2 = randn_of({8, 16}, 23);
    CHECK(equal_bits(f({x2})[0], step(std::vector<Tensor>{x2})[0]));
  }
  auto f = [](const std::vector<Tensor>& x) { return exp(x[0]) * 2.0; };
  const Graph g = trace_of({randn_of({4}, 24)}, f);
  const Graph other = trace_of({randn_of({4}, 25)}, [](const std::vector<Tensor>& x) { return x[0] + 1.0; });
  const FusionPlan plan = plan_fusion(g);
  REQUIRE(plan.groups.size() == 1);
  const Tensor x = randn_of({4}, 26);
  CHECK_THROWS_WITH(execute(other, {&x, 1}, nullptr, false, &plan), Contains("the fusion plan is for a graph of"));
}
