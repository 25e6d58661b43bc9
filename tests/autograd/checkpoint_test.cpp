// Activation checkpointing (autograd/checkpoint.h): gradients equal to the plain run's, bit for bit, for captured
// parameters, several inputs, inputs without grad, dropout (the generator is rewound), several outputs; and the
// errors of a second backward and of a saved input modified in place.
// Losses are (y * y).sum() rather than y.sum(): a float64 matmul whose gradient is an expanded (stride-0) tensor
// reads out of bounds in ops/cpu/gemm_eigen.cpp (its stride fix-up turns 0 into 1); reported to the ops owners.
#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "../test_util.h"

using namespace ds;

namespace {

struct Mlp {
  Tensor w1, b1, w2, b2;
  explicit Mlp(DType dt) {
    manual_seed(7);
    w1 = randn({8, 16}, {.dtype = dt}).requires_grad_();
    b1 = randn({16}, {.dtype = dt}).requires_grad_();
    w2 = randn({16, 4}, {.dtype = dt}).requires_grad_();
    b2 = randn({4}, {.dtype = dt}).requires_grad_();
  }
  // Captures the parameters rather than taking them as inputs, as a module's forward does.
  Tensor operator()(const Tensor& x, double p = 0.0) const {
    Tensor h = tanh(matmul(x, w1) + b1);
    if (p > 0) h = dropout(h, p, true);
    return matmul(h, w2) + b2;
  }
  std::vector<Tensor> params() const { return {w1, b1, w2, b2}; }
  std::vector<Tensor> take_grads() const {
    std::vector<Tensor> g;
    for (Tensor p : params()) {
      g.push_back(p.grad());
      p.impl()->autograd_mut().grad.reset();
    }
    return g;
  }
};

}  // namespace

TEST_CASE("checkpoint: captured parameters and the input get the plain run's gradients", "[checkpoint][autograd]") {
  for (DType dt : {kF32, kF64}) {
    Mlp mlp(dt);
    Tensor x = randn({5, 8}, {.dtype = dt}).requires_grad_();
    (mlp(x) * mlp(x)).sum().backward();
    auto plain = mlp.take_grads();
    Tensor gx = x.grad();
    x.impl()->autograd_mut().grad.reset();

    Tensor y = checkpoint([&](const Tensor& in) { return mlp(in); }, x);
    CHECK(y.requires_grad());
    CHECK(y.grad_fn_name() == "checkpoint");
    // The plain run above used mlp(x) twice; a checkpoint recomputes once per use, so do the same here.
    Tensor y2 = checkpoint([&](const Tensor& in) { return mlp(in); }, x);
    (y * y2).sum().backward();
    check_all_equal_bits(mlp.take_grads(), plain);
    CHECK(equal_bits(x.grad(), gx));
  }
}

TEST_CASE("checkpoint: several inputs, one without grad, and an input that needs none", "[checkpoint][autograd]") {
  manual_seed(3);
  Tensor a = randn({4, 3}, {.dtype = kF64}).requires_grad_();
  Tensor b = randn({3, 2}, {.dtype = kF64}).requires_grad_();
  Tensor c = randn({4, 2}, {.dtype = kF64});  // no grad
  auto f = [](const Tensor& a, const Tensor& b, const Tensor& c) { return sigmoid(matmul(a, b) * c) + a.sum(); };
  f(a, b, c).sum().backward();
  Tensor ga = a.grad(), gb = b.grad();
  a.impl()->autograd_mut().grad.reset();
  b.impl()->autograd_mut().grad.reset();

  checkpoint(f, a, b, c).sum().backward();
  CHECK(equal_bits(a.grad(), ga));
  CHECK(equal_bits(b.grad(), gb));
  CHECK_FALSE(c.grad().defined());
}

TEST_CASE("checkpoint: parameters get gradients even when no input requires grad", "[checkpoint][autograd]") {
  Mlp mlp(kF64);
  Tensor x = randn({5, 8}, {.dtype = kF64});
  Tensor p = mlp(x);
  (p * p).sum().backward();
  auto plain = mlp.take_grads();
  Tensor y = checkpoint([&](const Tensor& in) { return mlp(in); }, x);
  REQUIRE(y.requires_grad());
  (y * y).sum().backward();
  check_all_equal_bits(mlp.take_grads(), plain);
}

TEST_CASE("checkpoint: dropout draws the same masks when recomputed", "[checkpoint][autograd]") {
  Mlp mlp(kF64);
  Tensor x = randn({32, 8}, {.dtype = kF64}).requires_grad_();
  manual_seed(11);
  Tensor p = mlp(x, 0.5);
  (p * p).sum().backward();
  const PhiloxState after_plain = default_generator().state();
  auto plain = mlp.take_grads();
  Tensor gx = x.grad();
  x.impl()->autograd_mut().grad.reset();

  manual_seed(11);
  Tensor y = checkpoint([&](const Tensor& in) { return mlp(in, 0.5); }, x);
  (y * y).sum().backward();
  check_all_equal_bits(mlp.take_grads(), plain);
  CHECK(equal_bits(x.grad(), gx));
  // Backward put the generator back where the forward left it.
  CHECK(default_generator().state().offset == after_plain.offset);
}

TEST_CASE("checkpoint: several outputs, and only some of them used", "[checkpoint][autograd]") {
  manual_seed(5);
  Tensor x = randn({6}, {.dtype = kF64}).requires_grad_();
  CheckpointFn f = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * in[0], exp(in[0])}; };
  auto outs = f({x});
  (outs[0].sum() + outs[1].sum() * 2).backward();
  Tensor g_both = x.grad();
  x.impl()->autograd_mut().grad.reset();

  auto c = checkpoint(f, {x});
  REQUIRE(c.size() == 2);
  (c[0].sum() + c[1].sum() * 2).backward();
  CHECK(equal_bits(x.grad(), g_both));
  x.impl()->autograd_mut().grad.reset();

  checkpoint(f, {x})[1].sum().backward();  // output 0 gets no gradient
  CHECK(equal_bits(x.grad(), exp(x.detach())));
}

TEST_CASE("checkpoint: plain call without grad mode, and its errors", "[checkpoint][autograd]") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  {
    NoGradGuard no_grad;
    Tensor y = checkpoint([](const Tensor& in) { return in * 2; }, x);
    CHECK_FALSE(y.requires_grad());
  }
  Tensor y = checkpoint([](const Tensor& in) { return (in * in).sum(); }, x);
  y.backward(Tensor(), true);
  y.backward();  // retained: recomputed again, accumulated
  CHECK(x.grad().tolist<float>() == std::vector<float>{4, 8});
  CHECK_THROWS_WITH(y.backward(),
                    Catch::Matchers::Contains("[checkpoint]") && Catch::Matchers::Contains("second time"));

  Tensor z = tensor({1.0, 2.0}).requires_grad_();
  Tensor w = z * 1;  // a non-leaf we may modify in place
  Tensor out = checkpoint([](const Tensor& in) { return in * in; }, w).sum();
  w.add_(1);
  CHECK_THROWS_WITH(out.backward(), Catch::Matchers::Contains("modified by an in-place operation"));

  Tensor v = tensor({1.0, 2.0}).requires_grad_();
  CHECK_THROWS_WITH(ds::grad({checkpoint([](const Tensor& in) { return (in * in).sum(); }, v)}, {v}),
                    Catch::Matchers::Contains("[checkpoint]") && Catch::Matchers::Contains("use backward()"));
}
