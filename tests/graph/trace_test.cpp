// Capture by trace-and-run (framework/graph/trace.h) and replay (executor.h): the IR's text, its checks, and replays
// that give the eager program's numbers bitwise (the same ops in the same order), a training step included.
#include <catch2/catch.hpp>

#include <memory>

#include <ds/ds.h>
#include <ds/graph/compile.h>
#include <ds/graph/executor.h>
#include <ds/graph/trace.h>

using namespace ds;
using namespace ds::graph;

namespace {

Tensor randn_of(IntArrayRef shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, {}, &g);
}

bool same(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.dtype() == b.dtype() && a.to(kF64).tolist<double>() == b.to(kF64).tolist<double>();
}

}  // namespace

TEST_CASE("trace: a forward function replays on new inputs with eager's values", "[graph]") {
  const Tensor w = randn_of({4, 3}, 1), b = randn_of({3}, 2);
  auto f = [&](const Tensor& x) { return sum(relu(matmul(x, w) + b) * 2.0, {1}); };
  const Tensor x0 = randn_of({5, 4}, 3);
  Graph g;
  Tensor y0;
  {
    Tracer t({&x0, 1});
    y0 = f(x0);
    g = t.finish({&y0, 1});
  }
  CHECK(same(y0, f(x0)));  // the traced call ran
  const std::string text = g.str();
  INFO(text);
  CHECK(text.find("graph(%0: f32[5, 4])") == 0);
  CHECK(text.find("= captured 0") != std::string::npos);
  CHECK(text.find("= matmul(%0, %1)") != std::string::npos);
  CHECK(text.find("relu(") != std::string::npos);
  CHECK(text.find("{dims=[1], keepdim=false}") != std::string::npos);
  CHECK(g.inputs().size() == 1);
  CHECK(g.captured().size() >= 2);  // w, b (and the wrapped 2.0)

  for (uint64_t seed : {4, 5, 6}) {
    const Tensor x = randn_of({5, 4}, seed);
    const TensorList out = execute(g, {&x, 1});
    REQUIRE(out.size() == 1);
    CHECK(same(out[0], f(x)));
  }
  // Captured tensors are read live: a weight changed in place changes the replay.
  const Tensor x = randn_of({5, 4}, 7);
  {
    NoGradGuard ng;
    const_cast<Tensor&>(w).mul_(3.0);
  }
  CHECK(same(execute(g, {&x, 1})[0], f(x)));
  // A differing argument is refused, naming what was traced.
  const Tensor wrong = randn_of({6, 4}, 8);
  CHECK_THROWS_WITH(execute(g, {&wrong, 1}), Catch::Contains("argument 0 is float32 [6, 4]") &&
                                                 Catch::Contains("traced with f32[5, 4]"));
}

TEST_CASE("trace: a training step (forward, backward, SGD with momentum) replays bitwise", "[graph]") {
  // Two copies of one MLP: A runs every step eagerly, B traces its second step and replays the rest.
  auto make = [](uint64_t seed) {
    std::vector<Tensor> p = {randn_of({8, 6}, seed) * 0.3, zeros({8}), randn_of({3, 8}, seed + 1) * 0.3, zeros({3})};
    for (Tensor& t : p) t.requires_grad_(true);
    return p;
  };
  std::vector<Tensor> pa = make(11), pb = make(11);
  optim::SGD oa(pa, {.lr = 0.05, .momentum = 0.9}), ob(pb, {.lr = 0.05, .momentum = 0.9});
  auto step = [](std::vector<Tensor>& p, optim::SGD& opt, const Tensor& x, const Tensor& y) {
    opt.zero_grad();
    const Tensor h = relu(linear(x, p[0], p[1]));
    const Tensor loss = cross_entropy(linear(h, p[2], p[3]), y);
    loss.backward();
    opt.step();
    return loss.detach();
  };
  auto batch = [](int i) {
    Generator g(100 + i);
    return std::pair{randn({16, 6}, {}, &g), randint(0, 3, {16}, {.dtype = kI64}, &g)};
  };
  // Step 1 eagerly on both (SGD's first step initialises its momentum: a different path).
  {
    auto [x, y] = batch(1);
    step(pa, oa, x, y);
    step(pb, ob, x, y);
  }
  Graph g;
  {
    auto [x, y] = batch(2);
    CHECK(same(step(pa, oa, x, y), [&] {
      const Tensor args[] = {x, y};
      Tracer t(args);
      const Tensor loss = step(pb, ob, x, y);
      g = t.finish({&loss, 1});
      return loss;
    }()));
  }
  INFO(g.str());
  CHECK(g.nodes().size() > 15);
  int inplace = 0;
  for (const Node& n : g.nodes()) inplace += n.target != kNoValue;
  CHECK(inplace >= 4);  // the parameter updates at least
  for (int i = 3; i <= 6; ++i) {
    auto [x, y] = batch(i);
    const Tensor la = step(pa, oa, x, y);
    const Tensor args[] = {x, y};
    const Tensor lb = execute(g, args)[0];
    CHECK(same(la, lb));
    for (size_t k = 0; k < pa.size(); ++k) CHECK(same(pa[k], pb[k]));
  }
}

TEST_CASE("trace: random ops draw anew on every replay, as eager does", "[graph]") {
  Generator gen(42);
  auto f = [&](const Tensor& x) { return dropout(x, 0.5, true, &gen); };
  const Tensor x = ones({64});
  Graph g;
  {
    Tracer t({&x, 1});
    const Tensor y = f(x);
    g = t.finish({&y, 1});
  }
  CHECK(g.rng().size() == 1);
  CHECK(g.str().find("= rng {counters=") != std::string::npos);
  const uint64_t s = gen.seed();
  gen.manual_seed(s);
  const Tensor eager1 = f(x), eager2 = f(x);
  gen.manual_seed(s);
  const Tensor r1 = execute(g, {&x, 1})[0], r2 = execute(g, {&x, 1})[0];
  CHECK(same(r1, eager1));
  CHECK(same(r2, eager2));
  CHECK_FALSE(same(r1, r2));
}

TEST_CASE("graph: text, dot and the invariants verify() checks", "[graph]") {
  const Tensor x = ones({2, 3});
  Graph g;
  {
    Tracer t({&x, 1});
    const Tensor y = exp(x).t();
    g = t.finish({&y, 1});
  }
  CHECK(g.str() ==
        "graph(%0: f32[2, 3]) {\n"
        "  %1: f32[2, 3] = exp(%0)\n"
        "  %2: f32[3, 2](1, 3) = permute(%1) {dims=[1, 0]}\n"
        "  return (%2)\n"
        "}\n");
  CHECK(g.value(2).alias == g.value(1).alias);  // a view shares its base's storage
  CHECK(g.value(1).alias != g.value(0).alias);
  const std::string dot = g.dot();
  CHECK(dot.find("digraph ds {") == 0);
  CHECK(dot.find("n0 -> n1") != std::string::npos);

  // A node that reads a value defined after it.
  Graph bad;
  const ValueId in = bad.add_input(x);
  const Tensor outs[] = {x};
  const ValueId early[] = {in + 2};
  bad.add_node(OpId::exp, {}, early, outs, {});
  CHECK_THROWS_WITH(bad.verify(), Catch::Contains("[graph] node 0 (exp) uses input %2 before it is defined"));
  Graph wrong_attrs;
  const ValueId i2 = wrong_attrs.add_input(x);
  const ValueId ok[] = {i2};
  wrong_attrs.add_node(OpId::sum, DimAttrs{.dim = 0}, ok, outs, {});
  CHECK_THROWS_WITH(wrong_attrs.verify(), Catch::Contains("node 0 (sum) has attributes DimAttrs but its row takes "
                                                          "ReduceAttrs"));
}

TEST_CASE("trace: in-place writes and the optimizer's update are nodes into their targets", "[graph]") {
  Tensor p = ones({4});
  const Tensor g0 = full({4}, 0.5);
  Tensor m = zeros({4}), v = zeros({4});
  Graph g;
  {
    Tracer t({&g0, 1});
    adam_step_(p, g0, m, v, {.lr = 0.1, .step = 1});
    p.add_(1.0);
    g = t.finish({&p, 1});
  }
  INFO(g.str());
  REQUIRE(g.nodes().size() >= 2);
  const Node& adam = g.nodes()[0];
  CHECK(adam.op == OpId::adam_step);
  CHECK(adam.target != kNoValue);
  CHECK(adam.outputs.size() == 3);  // p, and the new versions of m and v
  CHECK(g.value(adam.outputs[1]).alias == g.value(adam.inputs[2]).alias);
  CHECK(g.nodes().back().target == g.nodes()[0].outputs[0]);  // add_ writes the updated p
}

TEST_CASE("trace: a generator the function makes and drops draws the same numbers on every replay", "[graph]") {
  auto f = [](std::span<const Tensor> x) {
    Generator g(5);  // seeded the same on every call: eager draws the same numbers each time
    return TensorList{x[0] + randn({3}, {}, &g)};
  };
  CompiledFunction c = compile(f, {.warmup = 0, .name = "local generator"});
  for (double v : {0.0, 1.0, 2.0}) {
    const Tensor x = full({3}, v);
    CHECK(c({x})[0].tolist<float>() == f(std::vector<Tensor>{x})[0].tolist<float>());
  }
  CHECK(c.stats().replays == 2);
  CHECK(c.last_graph()->rng().empty());  // the draw became a captured constant

  // A generator that outlives the trace but not the graph: the replay names the problem.
  auto owned = std::make_unique<Generator>(9);
  CompiledFunction d = compile([&](std::span<const Tensor> x) { return TensorList{x[0] + rand({2}, {}, owned.get())}; },
                               {.warmup = 0, .name = "dropped generator"});
  d({ones({2})});
  owned.reset();
  CHECK_THROWS_WITH(d({ones({2})}), Catch::Contains("reads a generator that no longer exists"));
}
