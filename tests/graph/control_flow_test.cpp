// ds::cond and ds::while_loop (graph/control_flow.h): data-dependent control flow that a compiled graph decides on
// every run, against the same program run eagerly (plain C++ branches and loops); a compiled training step whose
// branches read parameters; and each thing a body may not do, as a clear error.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/graph/compile.h>
#include <ds/graph/control_flow.h>
#include <ds/graph/serialize.h>

#include "graph_test_util.h"

using namespace ds;
using graph::testing::randn_of;

namespace {

// y = cond(sum(x) > 0, x * 2 + 1, exp(-x)) * 3: the branch follows the data.
TensorList signed_branch(std::span<const Tensor> x) {
  const TensorList y = cond(
      sum(x[0]) > 0.0, [](std::span<const Tensor> v) { return TensorList{v[0] * 2.0 + 1.0}; },
      [](std::span<const Tensor> v) { return TensorList{exp(neg(v[0]))}; }, {x[0]});
  return {y[0] * 3.0};
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.dtype() == b.dtype() && a.tolist<double>() == b.tolist<double>();
}

}  // namespace

TEST_CASE("cond: a compiled graph takes the branch each call's data picks, with no graph break", "[graph][compile]") {
  CompiledFunction f = compile(signed_branch, {.name = "signed branch"});
  for (double shift : {1.0, -2.0, 0.5, -0.5, 3.0, -4.0}) {
    const Tensor x = randn_of({4, 5}, 3) + shift;
    CHECK(same_bits(f({x})[0], signed_branch(std::vector<Tensor>{x})[0]));
  }
  CHECK(f.stats().graph_breaks == 0);
  CHECK(f.stats().traces == 1);
  CHECK(f.stats().replays == 4);
  bool has_cond = false;
  for (const graph::Node& n : f.last_graph()->nodes()) has_cond = has_cond || n.op == OpId::cond;
  CHECK(has_cond);
  CHECK_THROWS_WITH(graph::to_bytes(*f.last_graph()), Catch::Contains("a graph with control flow cannot be saved"));
}

TEST_CASE("cond: a compiled training step through branches that read parameters trains like eager",
          "[graph][compile]") {
  // h = x w1; the head is relu(h) w2 when mean(h) > 0, else tanh(h) w3: w2 and w3 are captured by the branches,
  // so their gradients come through cond's vjp (a cond of the branches' recomputed vjps).
  struct Step {
    Tensor w1 = randn_of({6, 8}, 1) * 0.5, w2 = randn_of({8, 3}, 2) * 0.5, w3 = randn_of({8, 3}, 3) * 0.5;
    std::unique_ptr<optim::SGD> opt;
    Step() {
      for (Tensor* w : {&w1, &w2, &w3}) w->requires_grad_(true);
      opt = std::make_unique<optim::SGD>(std::vector<Tensor>{w1, w2, w3}, optim::SGDOptions{.lr = 0.02});
    }
    TensorList operator()(std::span<const Tensor> xy) {
      opt->zero_grad();
      const Tensor h = matmul(xy[0], w1);
      const Tensor out = cond(
          mean(h) > 0.0, [&](std::span<const Tensor> v) { return TensorList{matmul(relu(v[0]), w2)}; },
          [&](std::span<const Tensor> v) { return TensorList{matmul(tanh(v[0]), w3)}; }, {h})[0];
      const Tensor loss = mean(square(out - xy[1]));
      loss.backward();
      opt->step();
      return {loss.detach()};
    }
  } eager, comp;
  CompiledFunction f = compile([&](std::span<const Tensor> xy) { return comp(xy); }, {.name = "branchy step"});
  int took_true = 0;
  for (uint64_t i = 0; i < 10; ++i) {
    const Tensor x = randn_of({5, 6}, 10 + i) + (i % 3 == 0 ? -1.0 : 1.0), y = randn_of({5, 3}, 40 + i);
    took_true += mean(matmul(x, eager.w1)).item<double>() > 0;
    const double a = eager(std::vector<Tensor>{x, y})[0].item<double>(), b = f({x, y})[0].item<double>();
    CHECK(b == Approx(a).epsilon(1e-6));
  }
  CHECK(took_true > 0);
  CHECK(took_true < 10);
  for (auto [a, b] : {std::pair{&eager.w1, &comp.w1}, {&eager.w2, &comp.w2}, {&eager.w3, &comp.w3}})
    CHECK(max(abs(*a - *b)).item<double>() < 1e-5);
  CHECK(max(abs(eager.w2 - randn_of({8, 3}, 2) * 0.5)).item<double>() > 0);  // both heads trained
  CHECK(max(abs(eager.w3 - randn_of({8, 3}, 3) * 0.5)).item<double>() > 0);
  CHECK(f.stats().graph_breaks == 0);
  CHECK(f.stats().replays == 8);
}

TEST_CASE("while_loop: a compiled graph runs as many iterations as each call's data needs", "[graph][compile]") {
  // Newton's iteration for sqrt(x), until |y^2 - x| < 1e-6 everywhere or 50 steps; returns y and the steps.
  auto newton = [](std::span<const Tensor> x) {
    const TensorList r = while_loop(
        [](std::span<const Tensor> v) {
          return logical_and(v[2] < 50, amax(abs(v[0] * v[0] - v[1])) > 1e-6);
        },
        [](std::span<const Tensor> v) { return TensorList{(v[0] + v[1] / v[0]) * 0.5, v[1], v[2] + 1}; },
        {ones_like(x[0]), x[0], zeros({}, {.dtype = kI64})});
    return TensorList{r[0], r[2]};
  };
  CompiledFunction f = compile(newton, {.name = "newton"});
  std::vector<int64_t> steps;
  for (double scale : {2.0, 100.0, 1e4, 0.5, 1e6}) {
    const Tensor x = abs(randn_of({6}, 5, kF64)) * scale + 0.1;
    const TensorList got = f({x}), want = newton(std::vector<Tensor>{x});
    CHECK(same_bits(got[0], want[0]));
    CHECK(got[1].item<int64_t>() == want[1].item<int64_t>());
    CHECK(max(abs(got[0] * got[0] - x)).item<double>() < 1e-6);
    steps.push_back(got[1].item<int64_t>());
  }
  CHECK(steps[1] != steps[4]);  // the trip count followed the data
  CHECK(f.stats().graph_breaks == 0);
  CHECK(f.stats().replays == 3);
}

TEST_CASE("cond and while_loop: what their bodies may not do is a clear error", "[graph][compile]") {
  const Tensor x = ones({3});
  auto traced = [](const std::function<TensorList(std::span<const Tensor>)>& fn) {
    CompiledFunction f = compile(fn, {.warmup = 0, .name = "bodies"});
    return f({ones({3})});
  };
  auto same = [](std::span<const Tensor> v) { return TensorList{v[0] * 2.0}; };
  // A tensor the function computed, captured instead of passed.
  CHECK_THROWS_WITH(traced([&](std::span<const Tensor> a) {
                      const Tensor h = a[0] + 1.0;
                      return cond(sum(a[0]) > 0.0, [&](std::span<const Tensor> v) { return TensorList{v[0] * h}; },
                                  same, {a[0]});
                    }),
                    Catch::Contains("[cond] the true branch reads a tensor (float32 [3] on cpu) that the traced "
                                    "function computed or received, without taking it as an operand"));
  // Branches of other types.
  CHECK_THROWS_WITH(traced([&](std::span<const Tensor> a) {
                      return cond(sum(a[0]) > 0.0, same,
                                  [](std::span<const Tensor> v) { return TensorList{sum(v[0])}; }, {a[0]});
                    }),
                    Catch::Contains("the true branch returns output 0 as float32 [3] on cpu, the false branch as "
                                    "float32 [] on cpu"));
  // A host read, and an in-place write into an operand.
  CHECK_THROWS_WITH(traced([&](std::span<const Tensor> a) {
                      return cond(sum(a[0]) > 0.0, same, [](std::span<const Tensor> v) {
                        return TensorList{v[0] * sum(v[0]).item<double>()};
                      }, {a[0]});
                    }),
                    Catch::Contains("the false branch reads data on the host (item() reads"));
  CHECK_THROWS_WITH(traced([&](std::span<const Tensor> a) {
                      return cond(sum(a[0]) > 0.0, [](std::span<const Tensor> v) {
                        Tensor t = v[0];
                        t.add_(1.0);
                        return TensorList{t};
                      }, same, {a[0].clone()});
                    }),
                    Catch::Contains("the true branch writes into an operand or a captured tensor in place (add)"));
  // A predicate of two elements; while_loop under autograd.
  CHECK_THROWS_WITH(cond(ones({2}), same, same, {x}), Catch::Contains("[cond] the predicate must be a tensor of one "
                                                                       "element, got [2]"));
  const Tensor w = ones({3}).requires_grad_(true);
  CHECK_THROWS_WITH(while_loop([](std::span<const Tensor> v) { return sum(v[0]) < 10.0; }, same, {w}),
                    Catch::Contains("[while_loop] is not differentiable (its trip count is data), but carried value 0 "
                                    "(float32 [3] on cpu) requires grad"));
}

TEST_CASE("cond before a graph break: the rerun takes the traced op's results", "[graph][compile]") {
  std::vector<double> read;
  auto fn = [&](std::span<const Tensor> x) {
    const Tensor y = signed_branch(x)[0];
    read.push_back(sum(y).item<double>());
    return TensorList{y + 1.0};
  };
  CompiledFunction f = compile(fn, {.name = "cond then read"});
  std::vector<double> want;
  for (double shift : {1.0, -2.0, 0.5, -3.0}) {
    const Tensor x = randn_of({4, 5}, 9) + shift;
    const Tensor expect = signed_branch(std::vector<Tensor>{x})[0] + 1.0;
    want.push_back(sum(expect - 1.0).item<double>());
    CHECK(same_bits(f({x})[0], expect));
  }
  CHECK(read == want);
  CHECK(f.stats().graph_breaks == 1);
  CHECK(f.stats().prefix_replays == 2);
}

TEST_CASE("cond and while_loop: bodies read captured tensors live, integer values flow, nested compiled functions "
          "are part of the trace", "[graph][compile]") {
  // A loop whose inputs are all constants and whose body reads a buffer that changes between calls: never folded.
  Tensor w = full({2}, 1.0);
  auto power = [&](std::span<const Tensor>) {
    NoGradGuard no_grad;
    const TensorList r = while_loop([](std::span<const Tensor> v) { return v[0] < 3; },
                                    [&](std::span<const Tensor> v) { return TensorList{v[0] + 1, v[1] * w}; },
                                    {zeros({}, {.dtype = kI64}), ones({2})});
    return TensorList{r[1]};
  };
  CompiledFunction f = compile(power, {.name = "power"});
  for (double s : {2.0, 3.0, 0.5, 1.5}) {
    w.fill_(s);
    CHECK(f({})[0].tolist<double>() == std::vector<double>(2, s * s * s));
  }
  CHECK(f.stats().replays == 2);
  // An integer predicate; a parameter written in place before a branch reads it (still the captured tensor).
  Tensor p = full({3}, 2.0);
  CompiledFunction g = compile(
      [&](std::span<const Tensor> x) {
        {
          NoGradGuard no_grad;
          p.add_(1.0);
        }
        return cond(sum(x[0] > 0.0).to(kI64), [&](std::span<const Tensor> v) { return TensorList{v[0] * p}; },
                    [](std::span<const Tensor> v) { return TensorList{v[0] * 0.0}; }, {x[0]});
      },
      {.name = "integer predicate"});
  for (double v : {1.0, -1.0, 2.0, -2.0}) {
    const double scale = p.tolist<double>()[0] + 1;  // after this call's add_
    const double want = v > 0 ? v * scale : 0.0;
    CHECK(g({full({3}, v)})[0].tolist<double>() == std::vector<double>(3, want));
  }
  CHECK(g.stats().replays == 2);
  // A compiled function called inside another's trace runs eagerly there: its ops are the outer graph's.
  CompiledFunction inner = compile([](std::span<const Tensor> x) { return TensorList{exp(x[0]) + 1.0}; },
                                   {.name = "inner"});
  CompiledFunction outer = compile([&](std::span<const Tensor> x) { return TensorList{inner({x[0] * 2.0})[0] * 3.0}; },
                                   {.name = "outer"});
  for (double v : {0.1, 0.2, 0.3, 0.4}) {
    const Tensor x = full({2}, v);
    CHECK(outer({x})[0].tolist<float>() == ((exp(x * 2.0) + 1.0) * 3.0).tolist<float>());
  }
  bool has_exp = false;
  for (const graph::Node& n : outer.last_graph()->nodes()) has_exp = has_exp || n.op == OpId::exp;
  CHECK(has_exp);
  CHECK(outer.stats().replays == 2);
  // Writing through a view of an operand is writing the operand.
  CompiledFunction bad = compile(
      [](std::span<const Tensor> x) {
        return cond(sum(x[0]) > 0.0,
                    [](std::span<const Tensor> v) {
                      Tensor head = v[0].narrow(0, 0, 1);
                      head.zero_();
                      return TensorList{v[0] * 1.0};
                    },
                    [](std::span<const Tensor> v) { return TensorList{v[0] * 2.0}; }, {x[0].clone()});
      },
      {.warmup = 0, .name = "view write"});
  CHECK_THROWS_WITH(bad({ones({3})}), Catch::Contains("the true branch writes into an operand or a captured tensor "
                                                      "in place (full)"));
}
