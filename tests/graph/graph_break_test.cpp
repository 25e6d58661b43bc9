// Graph breaks: host code that reads data inside a compiled function (item(), tolist(), printing) cannot be replayed
// from a graph, so ds::compile runs such calls eagerly, says so once, and every call sees its own numbers. Reads of
// values that follow from constants, and the range checks inside ops, are not breaks.
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

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
  CHECK(f.stats().eager == 4);    // the warm-up and the three calls after the trace (they match its guard)
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
