// ds::compile (framework/graph/compile.h): warm-up, trace, replay; guards that re-trace; the verify mode; a training
// step compiled equals the same step run eagerly, parameters, gradients and losses bitwise.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/graph/compile.h>

using namespace ds;

namespace {

bool same(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.to(kF64).tolist<double>() == b.to(kF64).tolist<double>();
}

struct Mlp {
  std::vector<Tensor> p;
  optim::SGD opt;
  explicit Mlp(uint64_t seed) : p(make(seed)), opt(p, {.lr = 0.05, .momentum = 0.9}) {}
  static std::vector<Tensor> make(uint64_t seed) {
    Generator g(seed);
    std::vector<Tensor> p = {randn({16, 6}, {}, &g) * 0.3, zeros({16}), randn({3, 16}, {}, &g) * 0.3, zeros({3})};
    for (Tensor& t : p) t.requires_grad_(true);
    return p;
  }
  TensorList step(std::span<const Tensor> xy) {
    opt.zero_grad();
    const Tensor loss = cross_entropy(linear(relu(linear(xy[0], p[0], p[1])), p[2], p[3]), xy[1]);
    loss.backward();
    opt.step();
    return {loss.detach()};
  }
};

std::pair<Tensor, Tensor> batch(int i, int64_t n = 12) {
  Generator g(1000 + i);
  return {randn({n, 6}, {}, &g), randint(0, 3, {n}, {.dtype = kI64}, &g)};
}

}  // namespace

TEST_CASE("compile: a training step replays with the eager step's numbers, bitwise", "[graph][compile]") {
  Mlp a(5), b(5);
  CompiledFunction step = compile([&](std::span<const Tensor> xy) { return b.step(xy); }, {.name = "mlp step"});
  for (int i = 0; i < 8; ++i) {
    auto [x, y] = batch(i);
    const Tensor la = a.step(std::vector<Tensor>{x, y})[0];
    const Tensor lb = step({x, y})[0];
    INFO("step " << i);
    CHECK(same(la, lb));
    for (size_t k = 0; k < a.p.size(); ++k) {
      CHECK(same(a.p[k], b.p[k]));
      CHECK(same(a.p[k].grad(), b.p[k].grad()));  // the replay leaves its gradients in .grad, as eager does
    }
  }
  CHECK(step.stats().eager == 1);
  CHECK(step.stats().traces == 1);
  CHECK(step.stats().replays == 6);
  REQUIRE(step.last_graph() != nullptr);
  CHECK(step.last_graph()->grads().size() == 4);

  // A new batch size fails the guards: one more trace, then replays again.
  for (int i = 8; i < 11; ++i) {
    auto [x, y] = batch(i, 7);
    CHECK(same(a.step(std::vector<Tensor>{x, y})[0], step({x, y})[0]));
  }
  CHECK(step.stats().traces == 2);
  CHECK(step.stats().replays == 8);
  for (size_t k = 0; k < a.p.size(); ++k) CHECK(same(a.p[k], b.p[k]));
}

TEST_CASE("compile: an AdamW step under a changing learning rate replays bitwise (host effects)", "[graph][compile]") {
  // The step counts and the learning rate are host state: the optimizer refreshes them in host effects, which every
  // replay runs again, so the bias corrections and the schedule advance as in the eager run.
  std::vector<Tensor> pa = Mlp::make(21), pb = Mlp::make(21);
  optim::AdamW oa(pa, {.lr = 0.01, .weight_decay = 0.1}), ob(pb, {.lr = 0.01, .weight_decay = 0.1});
  auto step = [](std::vector<Tensor>& p, optim::AdamW& opt, std::span<const Tensor> xy) {
    opt.zero_grad();
    const Tensor loss = cross_entropy(linear(relu(linear(xy[0], p[0], p[1])), p[2], p[3]), xy[1]);
    loss.backward();
    opt.step();
    return TensorList{loss.detach()};
  };
  CompiledFunction compiled = compile([&](std::span<const Tensor> xy) { return step(pb, ob, xy); });
  for (int i = 0; i < 7; ++i) {
    const double lr = 0.01 / (1 + i);  // a schedule, set between steps as a scheduler does
    oa.param_groups()[0].set_lr(lr);
    ob.param_groups()[0].set_lr(lr);
    auto [x, y] = batch(i);
    INFO("step " << i);
    CHECK(same(step(pa, oa, std::vector<Tensor>{x, y})[0], compiled({x, y})[0]));
    for (size_t k = 0; k < pa.size(); ++k) CHECK(same(pa[k], pb[k]));
  }
  CHECK(compiled.stats().replays == 5);
  CHECK(ob.state(0).step == 7);  // the host step counts advanced on every replay
  // zero_grad, then per parameter its step count and its learning-rate refresh, and the four gradients.
  CHECK(compiled.last_graph()->actions().size() == 1 + 8 + 4);
}

TEST_CASE("compile: grad mode is a guard", "[graph][compile]") {
  const Tensor w = full({3}, 2.0).requires_grad_(true);
  CompiledFunction f = compile([&](std::span<const Tensor> x) { return TensorList{x[0] * w}; }, {.warmup = 0});
  const Tensor x = ones({3});
  CHECK(f({x})[0].tolist<float>() == std::vector<float>{2, 2, 2});
  {
    NoGradGuard ng;
    CHECK_FALSE(f({x})[0].requires_grad());
  }
  CHECK(f.stats().traces == 2);
  // A forward-only graph replayed with grad mode on records autograd: its output differentiates eagerly.
  const Tensor y = f({full({3}, 4.0)})[0];
  CHECK(f.stats().replays == 1);
  REQUIRE(y.requires_grad());
  sum(y).backward();
  CHECK(w.grad().tolist<float>() == std::vector<float>{4, 4, 4});
}

TEST_CASE("compile: the verify mode compares replays with eager runs and names a difference", "[graph][compile]") {
  Mlp a(9), b(9);
  CompiledFunction step =
      compile([&](std::span<const Tensor> xy) { return b.step(xy); }, {.verify_every = 1, .name = "verified step"});
  for (int i = 0; i < 5; ++i) {
    auto [x, y] = batch(i);
    CHECK(same(a.step(std::vector<Tensor>{x, y})[0], step({x, y})[0]));
  }
  CHECK(step.stats().verified == 3);
  for (size_t k = 0; k < a.p.size(); ++k) CHECK(same(a.p[k], b.p[k]));  // eager's state is what stays

  // A host scalar is baked into the trace: the verify mode catches the stale replay.
  double k = 1;
  CompiledFunction scale = compile([&](std::span<const Tensor> x) { return TensorList{x[0] * k}; },
                                   {.warmup = 0, .verify_every = 1, .name = "scale"});
  const Tensor x = ones({2});
  scale({x});
  k = 3;
  CHECK_THROWS_WITH(scale({x}), Catch::Contains("[compile] scale (DS_COMPILE_VERIFY): output 0 differs") &&
                                    Catch::Contains("compiled 1 vs eager 3"));
}

TEST_CASE("compile: dynamic dims: a training step at any batch size replays after three traces, bitwise",
          "[graph][compile][dynamic]") {
  Mlp a(31), b(31);
  CompiledFunction step = compile([&](std::span<const Tensor> xy) { return b.step(xy); },
                                  {.dynamic_dims = {{0, 0}, {1, 0}}, .name = "dynamic step"});
  const std::vector<int64_t> sizes = {12, 12, 7, 9, 5, 20, 13, 7, 5, 3};
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto [x, y] = batch(static_cast<int>(i), sizes[i]);
    INFO("call " << i << ", batch " << sizes[i]);
    CHECK(same(a.step(std::vector<Tensor>{x, y})[0], step({x, y})[0]));
    for (size_t k = 0; k < a.p.size(); ++k) {
      CHECK(same(a.p[k], b.p[k]));
      CHECK(same(a.p[k].grad(), b.p[k].grad()));
    }
  }
  // Call 0 runs eagerly (warm-up); traces at 12, 7 and 9 generalise; graphs are made at 5, 20, 13 and 3 (5 twice),
  // and 7 replays its own trace.
  CHECK(step.stats().traces == 3);
  CHECK(step.stats().generalized == 1);
  CHECK(step.stats().dynamic_graphs == 4);
  CHECK(step.stats().replays == 6);
  REQUIRE(step.last_graph() != nullptr);
  CHECK(step.last_graph()->value(step.last_graph()->inputs()[0]).sizes == Shape{3, 6});
}

TEST_CASE("compile: dynamic dims: calls that cannot share a graph are specialised", "[graph][compile][dynamic]") {
  SECTION("a program whose traces differ in a floating-point number (batch norm's n / (n - 1))") {
    Tensor mean_a = zeros({3}), var_a = ones({3}), mean_b = zeros({3}), var_b = ones({3});
    auto bn = [](const Tensor& x, const Tensor& m, const Tensor& v) { return batch_norm(x, m, v, {}, {}, true); };
    CompiledFunction f = compile([&](std::span<const Tensor> x) { return TensorList{bn(x[0], mean_b, var_b)}; },
                                 {.warmup = 0, .dynamic_dims = {{0, 0}}});
    for (int64_t s : {4, 6, 8, 10, 6}) {
      const Tensor x = randn({s, 3}) * 2.0 + 1.0;
      INFO("batch " << s);
      CHECK(same(bn(x, mean_a, var_a), f({x})[0]));
      CHECK(same(mean_a, mean_b));
      CHECK(same(var_a, var_b));
    }
    CHECK(f.stats().traces == 4);
    CHECK(f.stats().replays == 1);
    CHECK(f.stats().generalized == 0);
    CHECK(f.stats().dynamic_graphs == 0);
  }
  SECTION("marked sizes that differ, or below 2") {
    CompiledFunction f = compile([](std::span<const Tensor> x) { return TensorList{sum(x[0]) + sum(x[1])}; },
                                 {.warmup = 0, .dynamic_dims = {{0, 0}, {1, 0}}});
    for (int64_t s : {4, 5, 6, 7, 1}) CHECK(f({ones({s, 2}), ones({s})})[0].item<float>() == 3.0f * float(s));
    CHECK(f.stats().generalized == 1);
    CHECK(f.stats().dynamic_graphs == 1);  // 7; the size-1 call has a trace of its own
    CHECK(f({ones({4, 2}), ones({5})})[0].item<float>() == 13.0f);
    CHECK(f.stats().traces == 5);
  }
  SECTION("dims that do not exist") {
    CompiledFunction f = compile([](std::span<const Tensor> x) { return TensorList{x[0] * 2.0}; },
                                 {.warmup = 0, .dynamic_dims = {{0, 3}}, .name = "doubling"});
    CHECK_THROWS_WITH(f({ones({4, 3})}), Catch::Contains("doubling: dynamic_dims names dimension 3 of argument 0, "
                                                         "which is [4, 3]"));
    CompiledFunction g = compile([](std::span<const Tensor> x) { return TensorList{x[0] * 2.0}; },
                                 {.warmup = 0, .dynamic_dims = {{1, 0}}, .name = "doubling"});
    CHECK_THROWS_WITH(g({ones({4, 3})}), Catch::Contains("dynamic_dims names argument 1, but the call has 1"));
  }
}
