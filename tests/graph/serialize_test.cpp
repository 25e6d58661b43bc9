// The graph IR through protobuf (framework/graph/serialize.h): the text of a graph read back equals the original's,
// a forward graph read back runs with the original's values, and what cannot be bound is refused by name.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/graph/executor.h>
#include <ds/graph/serialize.h>
#include <ds/graph/trace.h>

using namespace ds;
using namespace ds::graph;

TEST_CASE("serialize: a traced training step round-trips to the same text", "[graph]") {
  Generator gen(3);
  std::vector<Tensor> p = {randn({8, 5}, {}, &gen), zeros({8}), randn({3, 8}, {}, &gen), zeros({3})};
  for (Tensor& t : p) t.requires_grad_(true);
  optim::AdamW opt(p, {.lr = 1e-2});
  const Tensor x = randn({4, 5}, {}, &gen), y = randint(0, 3, {4}, {.dtype = kI64}, &gen);
  auto step = [&] {
    opt.zero_grad();
    const Tensor loss = cross_entropy(linear(gelu(linear(x, p[0], p[1])), p[2], p[3]), y, Reduction::Mean, -100, 0.1);
    loss.backward();
    opt.step();
    return loss.detach();
  };
  step();
  const Tensor args[] = {x, y};
  Graph g;
  {
    Tracer t(args);
    const Tensor loss = step();
    g = t.finish({&loss, 1});
  }
  const std::string bytes = to_bytes(g);
  const Graph back = from_bytes(bytes, g.captured());
  CHECK(back.str() == g.str());
  CHECK(back.grads() == g.grads());
  CHECK(back.actions().size() == g.actions().size());
  // The optimizer's host effects cannot be stored: running the graph read back says so.
  CHECK_THROWS_WITH(execute(back, args), Catch::Contains("had host effects, which cannot be stored"));
}

TEST_CASE("serialize: a forward graph read back runs with the original's values", "[graph]") {
  const Tensor w = randn({6, 4}), b = randn({4});
  auto f = [&](const Tensor& x) { return sum(softmax(pow(relu(matmul(x, w) + b), 2.0), -1), {0}); };
  const Tensor x0 = randn({3, 6});
  Graph g;
  {
    Tracer t({&x0, 1});
    const Tensor y = f(x0);
    g = t.finish({&y, 1});
  }
  const Graph back = from_bytes(to_bytes(g), g.captured());
  const Tensor x = randn({3, 6});
  CHECK(execute(back, {&x, 1})[0].tolist<float>() == execute(g, {&x, 1})[0].tolist<float>());

  CHECK_THROWS_WITH(from_bytes("not a graph", g.captured()), Catch::Contains("[graph]"));
  CHECK_THROWS_WITH(from_bytes(to_bytes(g), {}), Catch::Contains("the graph captures") &&
                                                      Catch::Contains("but 0 were given"));
  std::vector<Tensor> wrong(g.captured().begin(), g.captured().end());
  wrong[0] = zeros({2});
  CHECK_THROWS_WITH(from_bytes(to_bytes(g), wrong), Catch::Contains("captured tensor 0 is float32 [2]"));
}
