// The autograd engine: accumulation, fan-in, retain_graph, create_graph (double backward), grad(), guards, hooks,
// detach, in-place rules and the errors that go with them. Expected gradients are worked out by hand.
#include <cmath>

#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "../test_util.h"

using namespace ds;

TEST_CASE("backward accumulates into leaves and sums fan-in", "[autograd]") {
  Tensor x = tensor({1.0, 2.0, 3.0}).requires_grad_();
  Tensor y = (x * x + x * 3).sum();  // dy/dx = 2x + 3
  y.backward();
  CHECK(x.grad().tolist<float>() == std::vector<float>{5, 7, 9});
  (x * 2).sum().backward();  // accumulates
  CHECK(x.grad().tolist<float>() == std::vector<float>{7, 9, 11});
  CHECK(x.is_leaf());
  CHECK_FALSE(y.is_leaf());
  CHECK(y.grad_fn_name() == "sum");
}

TEST_CASE("broadcast inputs receive gradients of their own shape", "[autograd]") {
  Tensor a = ones({3, 1}).requires_grad_();
  Tensor b = tensor({1.0, 2.0, 3.0, 4.0}).requires_grad_();
  (a * b).sum().backward();
  CHECK(a.grad().sizes() == Shape{3, 1});
  CHECK(a.grad().tolist<float>() == std::vector<float>{10, 10, 10});
  CHECK(b.grad().tolist<float>() == std::vector<float>{3, 3, 3, 3});
}

TEST_CASE("a second backward without retain_graph is an error", "[autograd]") {
  Tensor x = tensor({2.0}).requires_grad_();
  Tensor y = (x * x).sum();
  y.backward(Tensor(), true);
  y.backward();  // retained the first time
  CHECK(x.grad().item<float>() == 8);
  CHECK_THROWS_WITH(y.backward(), Catch::Matchers::Contains("second time") && Catch::Matchers::Contains("retain_graph"));
}

TEST_CASE("create_graph gives higher derivatives", "[autograd]") {
  Tensor x = tensor({0.5, -1.0}).requires_grad_();
  Tensor y = (x.pow(3) + x.sin()).sum();
  auto g = grad({y}, {x}, {}, false, true);  // 3x^2 + cos x
  REQUIRE(g[0].requires_grad());
  auto h = grad({g[0].sum()}, {x});  // 6x - sin x
  CHECK(h[0].tolist<float>()[0] == Approx(6 * 0.5 - std::sin(0.5)));
  CHECK(h[0].tolist<float>()[1] == Approx(-6.0 - std::sin(-1.0)));
  // Through saved outputs too: d2/dx2 exp(x) = exp(x), d2/dx2 tanh = -2 tanh (1 - tanh^2).
  Tensor z = tensor({0.3}).requires_grad_();
  auto g1 = grad({z.exp().sum() + z.tanh().sum()}, {z}, {}, false, true);
  auto g2 = grad({g1[0].sum()}, {z});
  const double t = std::tanh(0.3);
  CHECK(g2[0].item<double>() == Approx(std::exp(0.3) - 2 * t * (1 - t * t)));
}

TEST_CASE("grad returns gradients of chosen inputs without touching .grad", "[autograd]") {
  Tensor a = tensor({1.0, 2.0}).requires_grad_();
  Tensor b = tensor({3.0, 4.0}).requires_grad_();
  Tensor c = tensor({5.0}).requires_grad_();
  Tensor y = (a * b).sum();
  auto g = grad({y}, {a, b}, {}, true);
  CHECK(g[0].tolist<float>() == std::vector<float>{3, 4});
  CHECK(g[1].tolist<float>() == std::vector<float>{1, 2});
  CHECK_FALSE(a.grad().defined());
  Tensor mid = a * 2;  // a non-leaf input
  Tensor z = (mid * mid).sum();
  CHECK(grad({z}, {mid})[0].tolist<float>() == std::vector<float>{4, 8});
  CHECK_THROWS_WITH(grad({y}, {c}), Catch::Matchers::Contains("input 0 (shape [1]) was not used"));
  auto u = grad({(a * 1).sum()}, {a, c}, {}, false, false, true);
  CHECK_FALSE(u[1].defined());
  CHECK_THROWS_WITH(grad({ones({2})}, {a}), Catch::Matchers::Contains("does not require grad"));
  CHECK_THROWS_WITH((a * 2).backward(), Catch::Matchers::Contains("only for one-element outputs"));
}

TEST_CASE("no_grad and enable_grad guards", "[autograd]") {
  Tensor x = ones({2}).requires_grad_();
  {
    NoGradGuard g;
    Tensor y = x * 2;
    CHECK_FALSE(y.requires_grad());
    {
      EnableGradGuard e;
      CHECK((x * 2).requires_grad());
    }
    CHECK_FALSE(is_grad_enabled());
  }
  CHECK(is_grad_enabled());
  CHECK((x * 2).requires_grad());
  CHECK_FALSE((ones({2}) * 2).requires_grad());
  CHECK_FALSE((x > 0).requires_grad());  // bool outputs never require grad
}

TEST_CASE("tensor hooks see and may replace gradients", "[autograd]") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor seen;
  x.register_hook([&](const Tensor& g) { seen = g.clone(); return g * 10; });
  Tensor mid = x * 3;
  mid.register_hook([](const Tensor& g) { return g + 1; });  // non-leaf hook
  mid.retain_grad();
  (mid * mid).sum().backward();  // d/dmid = 2 mid = (6, 12); hook adds 1 -> (7, 13)
  CHECK(mid.grad().tolist<float>() == std::vector<float>{7, 13});
  CHECK(seen.tolist<float>() == std::vector<float>{21, 39});
  CHECK(x.grad().tolist<float>() == std::vector<float>{210, 390});
  CHECK_THROWS_WITH(ones({1}).register_hook([](const Tensor& g) { return g; }), Catch::Matchers::Contains("does not require grad"));
}

TEST_CASE("hooks are removed through their handles", "[autograd]") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  int leaf_calls = 0, mid_calls = 0;
  RemovableHandle h1 = x.register_hook([&](const Tensor& g) { ++leaf_calls; return g * 10; });
  Tensor mid = x * 3;
  RemovableHandle h2 = mid.register_hook([&](const Tensor& g) { ++mid_calls; return g; });
  h2.remove();
  h2.remove();  // twice does nothing
  mid.sum().backward();
  CHECK(leaf_calls == 1);
  CHECK(mid_calls == 0);
  CHECK(x.grad().tolist<float>() == std::vector<float>{30, 30});
  h1.remove();
  x.set_grad(Tensor());
  (x * 3).sum().backward();
  CHECK(leaf_calls == 1);
  CHECK(x.grad().tolist<float>() == std::vector<float>{3, 3});
}

TEST_CASE("post-accumulate-grad hooks see the leaf with its updated gradient", "[autograd]") {
  Tensor w = tensor({1.0, 2.0}).requires_grad_();
  std::vector<std::vector<float>> seen;
  RemovableHandle h = w.register_post_accumulate_grad_hook([&](const Tensor& leaf) {
    CHECK(leaf.is_same(w));
    seen.push_back(leaf.grad().tolist<float>());
  });
  (w * 2).sum().backward();
  (w * 3).sum().backward();  // accumulates: the hook sees the sum
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == std::vector<float>{2, 2});
  CHECK(seen[1] == std::vector<float>{5, 5});
  // Fan-in: the leaf's gradient is summed first, the hook fires once per backward.
  (w * 2 + w * 4).sum().backward();
  REQUIRE(seen.size() == 3);
  CHECK(seen[2] == std::vector<float>{11, 11});
  h.remove();
  (w * 2).sum().backward();
  CHECK(seen.size() == 3);
  Tensor mid = w * 2;
  CHECK_THROWS_WITH(mid.register_post_accumulate_grad_hook([](const Tensor&) {}),
                    Catch::Matchers::Contains("only leaf tensors") && Catch::Matchers::Contains("mul"));
  CHECK_THROWS_WITH(ones({1}).register_post_accumulate_grad_hook([](const Tensor&) {}),
                    Catch::Matchers::Contains("does not require grad"));
}

TEST_CASE("gradient sinks run as soon as they are ready", "[autograd]") {
  // keep holds w's AccumulateGrad from an older graph, so the sink has an older sequence number than the y branch;
  // it must still run right after w's gradient is complete, before the y branch (a bucket of data parallelism
  // starts reducing then, while backward goes on).
  Tensor w = tensor({1.0, 2.0}).requires_grad_(), x = tensor({3.0, 4.0}).requires_grad_();
  Tensor y = tensor({5.0, 6.0}).requires_grad_();
  Tensor keep = w * 1;
  std::vector<std::string> order;
  w.register_post_accumulate_grad_hook([&](const Tensor&) { order.push_back("w"); });
  Tensor a = y * 2;
  a.register_hook([&](const Tensor& g) {
    order.push_back("a");
    return g;
  });
  Tensor loss = (a * 3).sum() + (w * x).sum();
  loss.backward();
  REQUIRE(order.size() == 2);
  CHECK(order[0] == "w");
  CHECK(order[1] == "a");
}

TEST_CASE("callbacks queued during backward run once it has finished", "[autograd]") {
  Tensor w1 = tensor({1.0}).requires_grad_(), w2 = tensor({2.0}).requires_grad_();
  std::vector<std::string> events;
  int queued = 0;
  auto hook = [&](const Tensor&) {
    events.push_back("hook");
    if (queued++ == 0)
      autograd::queue_callback([&] {
        // Every leaf's gradient is in place when the callback runs.
        events.push_back(w1.grad().defined() && w2.grad().defined() ? "callback after all" : "callback early");
        autograd::queue_callback([&] { events.push_back("nested"); });
      });
  };
  w1.register_post_accumulate_grad_hook(hook);
  w2.register_post_accumulate_grad_hook(hook);
  (w1 * w2 * 3).sum().backward();
  CHECK(events == std::vector<std::string>{"hook", "hook", "callback after all", "nested"});
  CHECK_THROWS_WITH(autograd::queue_callback([] {}), Catch::Matchers::Contains("no backward is running"));
}

TEST_CASE("detach cuts the graph and shares memory", "[autograd]") {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = x * 2;
  Tensor d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.data() == y.data());
  Tensor z = (y * d).sum();  // d acts as a constant
  z.backward();
  CHECK(x.grad().tolist<float>() == std::vector<float>{4, 4});
  CHECK_THROWS_WITH((x * 2).requires_grad_(false), Catch::Matchers::Contains("only leaf tensors"));
  CHECK_THROWS_WITH(ones({2}, {.dtype = kI64}).requires_grad_(), Catch::Matchers::Contains("only floating tensors"));
}

TEST_CASE("a tensor saved for backward and then modified in place is an error naming the op", "[autograd]") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor e = x.exp();  // exp saves its output
  Tensor y = e.sum();
  {
    NoGradGuard g;
    e.mul_(2);
  }
  CHECK_THROWS_WITH(y.backward(), Catch::Matchers::Contains("[exp] a tensor saved for backward (output 0, shape [2]) "
                                                            "was modified by an in-place operation"));
}

TEST_CASE("in-place ops under autograd: leaves refuse, non-leaves rebase their history", "[autograd]") {
  Tensor w = tensor({1.0, 2.0}).requires_grad_();
  CHECK_THROWS_WITH(w.add_(1), Catch::Matchers::Contains("a leaf tensor that requires grad"));
  {
    NoGradGuard g;
    w.add_(1);  // the optimizer's way
  }
  CHECK(w.tolist<float>() == std::vector<float>{2, 3});
  Tensor h = w * 1;
  h.mul_(w);  // h = w * w, in place
  CHECK(h.grad_fn_name() == "mul");
  h.sum().backward();
  CHECK(w.grad().tolist<float>() == std::vector<float>{4, 6});
  Tensor v = (w * 1).view({2});
  CHECK_THROWS_WITH(v.add_(1), Catch::Matchers::Contains("in-place modification of a view"));
  Tensor c = zeros({2});
  c.add_(w);  // a tensor that did not require grad starts to
  CHECK(c.requires_grad());
}

TEST_CASE("anomaly mode names the op whose backward produced a NaN", "[autograd]") {
  Tensor x = tensor({0.0, 1.0}).requires_grad_();
  Tensor y = x.sqrt().sum();  // d sqrt / dx at 0 is infinite
  {
    DetectAnomalyGuard anomaly;
    CHECK_THROWS_WITH(y.backward(Tensor(), true), Catch::Matchers::Contains("the backward of sqrt produced a non-finite value"));
  }
  y.backward();  // without anomaly mode the inf simply flows
  CHECK(std::isinf(x.grad().tolist<float>()[0]));
}

TEST_CASE("gradcheck catches a wrong derivative and reports the worst element", "[autograd]") {
  Tensor x = tensor({0.5, 1.5, -2.0}, TensorOptions{.dtype = kF64}).requires_grad_();
  auto right = gradcheck([](const TensorList& in) { return TensorList{in[0] * in[0]}; }, {x});
  CHECK(right.ok);
  // x * detach(x) has derivative 2x, but autograd sees only x.
  auto wrong = gradcheck([](const TensorList& in) { return TensorList{in[0] * in[0].detach()}; }, {x});
  CHECK_FALSE(wrong.ok);
  CHECK(wrong.input == 0);
  CHECK(wrong.input_element == 2);  // |2x - x| is largest at x = -2
  CHECK(wrong.numerical == Approx(-4.0).epsilon(1e-6));
  CHECK(wrong.analytical == Approx(-2.0));
  CHECK(wrong.message.find("analytical -2") != std::string::npos);
  CHECK_THROWS_WITH(gradcheck([](const TensorList& in) { return in; }, {ones({2}).requires_grad_()}),
                    Catch::Matchers::Contains("must be a float64"));
}

TEST_CASE("embedding's padding row receives no gradient", "[autograd]") {
  Tensor w = ones({4, 2}).requires_grad_();
  embedding(w, tensor({1, 3, 1}), 1).sum().backward();
  CHECK(w.grad().tolist<float>() == std::vector<float>{0, 0, 0, 0, 0, 0, 1, 1});
}

TEST_CASE("the op layer's autograd hooks are installed", "[autograd]") {
  CHECK(dispatch_hooks().record != nullptr);
  CHECK(dispatch_hooks().backward != nullptr);
  CHECK(dispatch_hooks().rebase != nullptr);
}
