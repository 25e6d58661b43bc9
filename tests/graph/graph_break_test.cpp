// Graph breaks: host code that reads data inside a compiled function (item(), tolist(), printing) cannot be replayed
// from a graph, so ds::compile reruns such calls' host code, says so once, and every call sees its own numbers; the
// part before the read runs as a graph whose results the rerun takes (graph/graph_break.h). Reads of values that
// follow from constants, and the range checks inside ops, are not breaks.
#include <optional>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include <ds/core/detail/check.h>
#include <ds/ds.h>
#include <ds/graph/compile.h>
#include <ds/graph/executor.h>
#include <ds/graph/serialize.h>
#include <ds/graph/trace.h>

using namespace ds;

namespace {

// Host control flow on a value the data decides: doubles x when its sum is positive, else triples it, and keeps
// the sum it read on the host.
struct SignSwitch {
  std::vector<double> seen;
  TensorList operator()(std::span<const Tensor> x) {
    const double s = sum(x[0]).item<double>();
    seen.push_back(s);
    return {s > 0 ? x[0] * 2.0 : x[0] * 3.0};
  }
};

}  // namespace

TEST_CASE("graph break: item() in host control flow runs eagerly, with each call's own value", "[graph][compile]") {
  SignSwitch host;
  CompiledFunction f = compile([&](std::span<const Tensor> x) { return host(x); }, {.name = "sign switch"});
  const std::vector<float> values = {1, -4, 2, -1, 3};
  for (float v : values) {
    const Tensor x = full({3}, v);
    const float want = v > 0 ? 2 * v : 3 * v;
    CHECK(f({x})[0].tolist<float>() == std::vector<float>(3, want));
  }
  REQUIRE(host.seen.size() == values.size());  // the host code ran on every call, the traced one included
  for (size_t i = 0; i < values.size(); ++i) CHECK(host.seen[i] == 3.0 * values[i]);
  CHECK(f.stats().graph_breaks == 1);
  CHECK(f.stats().traces == 1);   // traced once, then known to break: no trace per call
  CHECK(f.stats().replays == 0);
  CHECK(f.stats().eager == 1);    // the warm-up
  CHECK(f.stats().prefix_replays == 3);  // the calls after the trace: the sum before the read ran as a graph
  REQUIRE(f.last_graph() != nullptr);
  const std::string read = f.last_graph()->host_read_str();
  CHECK(read.rfind("item() reads the output of sum (node 0) after 1 of the graph's", 0) == 0);
}

TEST_CASE("graph break: tolist() and printing a parameter's value break too", "[graph][compile]") {
  Tensor w = full({2}, 1.0);
  std::string printed;
  CompiledFunction f = compile(
      [&](std::span<const Tensor> x) {
        std::ostringstream os;
        os << w;
        printed = os.str();
        return TensorList{x[0] * w};
      },
      {.warmup = 0, .name = "print"});
  f({ones({2})});
  w.fill_(5);
  CHECK(f({ones({2})})[0].tolist<float>() == std::vector<float>{5, 5});
  CHECK(printed.find("5.") != std::string::npos);  // the print saw the new value
  CHECK(f.last_graph()->host_read_str().rfind("printing reads a captured tensor f32[2]", 0) == 0);

  CompiledFunction g = compile(
      [](std::span<const Tensor> x) {
        const std::vector<int64_t> n = x[0].tolist<int64_t>();
        return TensorList{zeros({n[0]})};
      },
      {.warmup = 0, .name = "shape from data"});
  CHECK(g({full({1}, 3, {.dtype = kI64})})[0].numel() == 3);
  CHECK(g({full({1}, 5, {.dtype = kI64})})[0].numel() == 5);  // an output shape the data decides
  CHECK(g.stats().graph_breaks == 1);
}

TEST_CASE("graph break: not for values made from constants, nor for the range checks inside ops", "[graph][compile]") {
  CompiledFunction f = compile(
      [](std::span<const Tensor> x) {
        const int64_t n = sum(arange(4, TensorOptions{.dtype = kI64})).item<int64_t>();  // 6 on every run
        return TensorList{x[0] * static_cast<double>(n)};
      },
      {.warmup = 0, .name = "constant read"});
  f({ones({2})});
  CHECK(f({full({2}, 2.0)})[0].tolist<float>() == std::vector<float>{12, 12});
  CHECK(f.stats().graph_breaks == 0);
  CHECK(f.stats().replays == 1);

  // cross_entropy reads the targets' range on the host to name a bad one; the kernel checks it again on a replay.
  const Tensor w = full({4, 3}, 0.5).requires_grad_(true);
  CompiledFunction loss = compile(
      [&](std::span<const Tensor> xy) { return TensorList{cross_entropy(matmul(xy[0], w), xy[1])}; },
      {.warmup = 0, .name = "loss"});
  const Tensor x = ones({2, 4}), good = full({2}, 1, {.dtype = kI64}), bad = full({2}, 7, {.dtype = kI64});
  loss({x, good});
  loss({x, good});
  CHECK(loss.stats().replays == 1);
  CHECK(loss.stats().graph_breaks == 0);
  CHECK_THROWS_WITH(loss({x, bad}), Catch::Contains("target values must be in [0, 3)"));
}

TEST_CASE("graph break: a traced graph with a host read refuses to run or to be saved", "[graph]") {
  const Tensor x = ones({2});
  graph::Graph g;
  {
    graph::Tracer t({&x, 1});
    const Tensor y = x * 2.0;
    (void)y.sum().item<double>();
    const Tensor outs[] = {y};
    g = t.finish(outs);
  }
  REQUIRE(g.host_reads().size() == 1);
  CHECK_THROWS_WITH(graph::execute(g, {&x, 1}),
                    Catch::Contains("[graph] the graph cannot run on its own: item() reads the output of sum"));
  CHECK_THROWS_WITH(graph::to_bytes(g), Catch::Contains("[graph] a graph with a host read cannot be saved"));
}

TEST_CASE("graph break: clip_grad_norm_ reads nothing on the host, so a clipped step replays", "[graph][compile]") {
  struct Model {
    Tensor w = full({3}, 0.5).requires_grad_(true);
    optim::SGD opt{{w}, {.lr = 0.1}};
    TensorList step(std::span<const Tensor> x) {
      opt.zero_grad();
      const Tensor loss = sum(square(x[0] * w));
      loss.backward();
      const Tensor total = optim::clip_grad_norm_({w}, 1.0);
      opt.step();
      return {loss.detach(), total};
    }
  } eager, comp;
  CompiledFunction f = compile([&](std::span<const Tensor> x) { return comp.step(x); }, {.name = "clipped step"});
  // Gradient norms above and below max_norm, so the replay must decide the scaling from each call's data.
  for (double scale : {4.0, 0.1, 3.0, 0.2, 5.0}) {
    const Tensor x = full({3}, scale);
    const TensorList a = eager.step(std::vector<Tensor>{x}), b = f({x});
    CHECK(a[1].item<double>() == b[1].item<double>());
    CHECK(a[0].item<double>() == b[0].item<double>());
  }
  CHECK(f.stats().graph_breaks == 0);
  CHECK(f.stats().replays == 3);
  CHECK(eager.w.tolist<double>() == comp.w.tolist<double>());
}

namespace {

// A step whose host code reads the loss: before the backward (skipping a step whose loss is too large, as
// loss-spike guards do) or after the update (logging it).
struct ReadingStep {
  Tensor w1 = full({4, 6}, 0.3).requires_grad_(true);
  Tensor w2 = full({6, 1}, -0.2).requires_grad_(true);
  optim::Adam opt{{w1, w2}, {.lr = 0.01}};
  bool read_before_backward = false, zero_grad_at_end = false, read_before_step = false;
  std::vector<double> losses;
  TensorList operator()(std::span<const Tensor> xy) {
    if (!zero_grad_at_end) opt.zero_grad();
    const Tensor h = relu(matmul(xy[0], w1) + 0.1);
    const Tensor loss = mean(square(matmul(h, w2) - xy[1]));
    if (read_before_backward) {
      losses.push_back(loss.item<double>());
      if (losses.back() > 4.0) return {loss.detach()};  // skipped: the data decides
    }
    loss.backward();
    if (read_before_step) losses.push_back(loss.item<double>());
    opt.step();
    if (zero_grad_at_end) opt.zero_grad();
    if (!read_before_backward && !read_before_step) losses.push_back(loss.item<double>());
    return {loss.detach()};
  }
};

Tensor seeded(IntArrayRef shape, uint64_t seed, double scale) {
  Generator g(seed);
  return randn(shape, {}, &g) * scale;
}

}  // namespace

TEST_CASE("graph break: the step before the read runs compiled, bitwise like eager", "[graph][compile]") {
  for (const int variant : {0, 1, 2, 3}) {
    INFO("variant " << variant << " (1: read before the backward, 2: zero_grad after the update, 3: read between "
                                  "the backward and the update)");
    ReadingStep eager, comp;
    eager.read_before_backward = comp.read_before_backward = variant == 1;
    eager.zero_grad_at_end = comp.zero_grad_at_end = variant == 2;
    eager.read_before_step = comp.read_before_step = variant == 3;
    CompiledFunction f = compile([&](std::span<const Tensor> xy) { return comp(xy); }, {.name = "reading step"});
    for (uint64_t i = 0; i < 8; ++i) {
      // Targets far off on some steps, so a loss read before the backward skips those updates.
      const Tensor x = seeded({5, 4}, i, 1.0), y = seeded({5, 1}, 100 + i, i % 3 == 2 ? 4.0 : 0.5);
      const Tensor a = eager(std::vector<Tensor>{x, y})[0], b = f({x, y})[0];
      CHECK(a.item<double>() == b.item<double>());
    }
    CHECK(eager.losses == comp.losses);
    CHECK(eager.w1.tolist<float>() == comp.w1.tolist<float>());
    CHECK(eager.w2.tolist<float>() == comp.w2.tolist<float>());
    CHECK(eager.opt.state(0).step == comp.opt.state(0).step);
    // The gradients left in .grad are eager's: the last step's, or none after a zero_grad at the end.
    for (auto [a, b] : {std::pair{&eager.w1, &comp.w1}, {&eager.w2, &comp.w2}}) {
      REQUIRE(a->grad().defined() == b->grad().defined());
      CHECK(a->grad().defined() == (variant != 2));
      if (a->grad().defined()) CHECK(a->grad().tolist<float>() == b->grad().tolist<float>());
    }
    CHECK(f.stats().graph_breaks == 1);
    CHECK(f.stats().prefix_replays == 6);
  }
}

TEST_CASE("graph break: results the host code still holds at the read are computed, whatever it does next",
          "[graph][compile]") {
  // h is held at the read and used by either branch; e is dropped before it (never computed on a rerun).
  auto fn = [](std::span<const Tensor> x) {
    const Tensor h = relu(x[0] * 2.0 + 1.0);
    const Tensor e = exp(x[0]);
    const double s = sum(h * e).item<double>();
    return TensorList{s > 10 ? h * 2.0 : h - 1.0};
  };
  CompiledFunction f = compile(fn, {.name = "branches"});
  for (float v : {0.5f, 3.0f, -1.0f, 2.0f, 0.1f, 4.0f}) {
    const Tensor x = full({3}, v);
    CHECK(f({x})[0].tolist<float>() == fn(std::vector<Tensor>{x})[0].tolist<float>());
  }
  CHECK(f.stats().prefix_replays == 4);

  // Dropout before the read: the host code's draws repeat the graph's, and leave the generator where eager does.
  auto noisy = [](std::span<const Tensor> x) {
    const Tensor d = dropout(x[0], 0.5, true);
    const double s = sum(d).item<double>();
    return TensorList{d * s};
  };
  CompiledFunction g = compile(noisy, {.name = "noisy"});
  for (uint64_t i = 0; i < 5; ++i) {
    const Tensor x = seeded({64}, i, 1.0);
    manual_seed(7 + i);
    const std::vector<float> want = noisy(std::vector<Tensor>{x})[0].tolist<float>();
    const float next_want = rand({1}).item<float>();
    manual_seed(7 + i);
    CHECK(g({x})[0].tolist<float>() == want);
    CHECK(rand({1}).item<float>() == next_want);
  }
  CHECK(g.stats().prefix_replays == 3);
}

TEST_CASE("graph break: results handed out are the host code's to write into after the read", "[graph][compile]") {
  // Three results equal to the argument or to each other; the host code writes into two of them after the read.
  // (Results a pass merged into one value, or into an argument, are copied: the next test's second case.)
  auto fn = [](std::span<const Tensor> x) {
    Tensor a = x[0] * 1.0, b = x[0] * 2.0, c = x[0] * 2.0;
    (void)sum(a).item<double>();
    a.add_(1.0);
    b.add_(10.0);
    return TensorList{a, b, c};
  };
  CompiledFunction f = compile(fn, {.name = "merged"});
  for (int i = 0; i < 4; ++i) {
    const Tensor x = full({3}, 1.0 + i);
    const TensorList got = f({x});
    CHECK(x.tolist<float>() == std::vector<float>(3, 1.0f + i));  // the argument is not written
    CHECK(got[0].tolist<float>() == std::vector<float>(3, 2.0f + i));
    CHECK(got[1].tolist<float>() == std::vector<float>(3, 12.0f + 2 * i));
    CHECK(got[2].tolist<float>() == std::vector<float>(3, 2.0f + 2 * i));
  }
  CHECK(f.stats().prefix_replays == 2);
}

TEST_CASE("graph break: host code that takes another path before the read is an error, then runs eagerly",
          "[graph][compile]") {
  bool square_it = false;
  auto fn = [&](std::span<const Tensor> x) {
    const Tensor y = square_it ? square(x[0]) : x[0] * x[0] * x[0];
    (void)sum(y).item<double>();
    return TensorList{y};
  };
  CompiledFunction f = compile(fn, {.name = "switch"});
  const Tensor x = full({2}, 2.0);
  f({x});
  f({x});
  CHECK(f({x})[0].tolist<float>() == std::vector<float>{8, 8});
  square_it = true;  // a host flag no guard sees
  CHECK_THROWS_WITH(f({x}), Catch::Contains("switch: the host code took another path than the traced one before "
                                            "its graph break (call 0 is pow_scalar, the trace's was mul)"));
  CHECK(f({x})[0].tolist<float>() == std::vector<float>{4, 4});  // eagerly from then on
  CHECK(f.stats().prefix_replays == 2);
}

TEST_CASE("graph break: the rerun hands out results by the plan, fresh storage for the rest", "[graph]") {
  // Two calls: the first's result taken from the graph, the second's (nothing holds it) fresh.
  const Tensor x = full({2}, 3.0);
  graph::BreakPrefix plan;
  plan.calls.push_back({OpId::mul, {0}});
  plan.calls.push_back({OpId::add, {graph::PrefixCall::kFresh}});
  plan.outputs = {0};
  const Tensor made = full({2}, 42.0);
  Tensor y, z;
  {
    const Tensor program[] = {x};
    graph::PrefixReplay rerun(plan, {made}, program, "plan");
    y = x * x;  // handed the graph's result: no kernel runs
    z = x + x;
    rerun.finish();
    const Tensor w = x - x;  // after the plan's calls: runs
    CHECK(w.tolist<float>() == std::vector<float>{0, 0});
  }
  CHECK(y.tolist<float>() == std::vector<float>{42, 42});
  CHECK(y.impl() != made.impl());  // a tensor object of its own, over the graph's storage
  CHECK(z.sizes() == x.sizes());
  // A graph result that is an argument's storage (a pass turned x * 1 into x) is copied before it is handed out.
  {
    const Tensor program[] = {x};
    graph::BreakPrefix one;
    one.calls.push_back({OpId::mul, {0}});
    one.outputs = {0};
    graph::PrefixReplay rerun(one, {x}, program, "plan");
    Tensor a = x * x;
    a.add_(x);
    CHECK(x.tolist<float>() == std::vector<float>{3, 3});
  }
  // Too few calls, and a call of another op, name the difference.
  graph::PrefixReplay short_rerun(plan, {made}, {}, "plan");
  (void)(x * x);
  CHECK_THROWS_WITH(short_rerun.finish(), Catch::Contains("it returned after 1 of the 2 calls"));
}

TEST_CASE("graph break: values that checks read before the break are computed in the rerun", "[graph]") {
  // nll_loss reads the targets' range (min and max) on the host as a check, then drops those results: the rerun
  // must compute them, or the check would read an uncomputed stand-in.
  const Tensor x = randn({4, 5}), y = full({4}, 2, {.dtype = kI64});
  std::optional<graph::BreakPrefix> plan;
  {
    const Tensor in[] = {x, y};
    graph::Tracer t(in);
    const Tensor loss = nll_loss(log_softmax(x, 1), y);
    (void)loss.item<double>();
    const Tensor outs[] = {loss};
    (void)t.finish(outs);
    plan = t.take_break_prefix();
  }
  REQUIRE(plan);
  // The range: the last amin and amax (log_softmax's amax, before them, is dropped and never read).
  std::vector<int32_t> ranges;
  for (const graph::PrefixCall& c : plan->calls)
    if (c.op == OpId::amin || c.op == OpId::amax) ranges.push_back(c.outputs[0]);
  REQUIRE(ranges.size() == 3);
  CHECK(ranges[0] == graph::PrefixCall::kFresh);
  CHECK(ranges[1] >= 0);  // outputs of the graph, not uncomputed stand-ins
  CHECK(ranges[2] >= 0);
}

TEST_CASE("graph break: an error after the read leaves the compiled part on; one before it turns it off",
          "[graph][compile]") {
  auto fn = [](std::span<const Tensor> x) {
    const Tensor y = x[0] * x[0];
    DS_CHECK(sum(y).item<double>() < 100, "user", "too large");
    return TensorList{y};
  };
  CompiledFunction f = compile(fn, {.name = "validating"});
  f({ones({2})});
  f({ones({2})});
  f({ones({2})});
  CHECK_THROWS_WITH(f({full({2}, 10.0)}), Catch::Contains("[user] too large"));
  CHECK(f({full({2}, 2.0)})[0].tolist<float>() == std::vector<float>{4, 4});
  CHECK(f.stats().prefix_replays == 3);
}
