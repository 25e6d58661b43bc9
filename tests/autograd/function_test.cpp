// Custom autograd functions: gradients against float64 finite differences (and second derivatives), non-tensor
// and list arguments, non-differentiable outputs, saved outputs without cycles, and the errors of a wrong backward.
#include <any>

#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "../test_util.h"

using namespace ds;
using autograd::FunctionCtx;

namespace {

// y = tanh(x) * scale, with dy/dx = scale * (1 - tanh^2) = scale - y^2 / scale, written in ds ops from the saved
// output (so it differentiates again).
struct ScaledTanh : autograd::Function<ScaledTanh> {
  static constexpr const char* kName = "scaled_tanh";
  static Tensor forward(FunctionCtx& ctx, const Tensor& x, double scale) {
    Tensor y = tanh(x) * scale;
    ctx.save_for_backward({y});
    ctx.saved_data["scale"] = scale;
    return y;
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const Tensor y = ctx.saved()[0];
    const double scale = std::any_cast<double>(ctx.saved_data["scale"]);
    return {g[0] * (scale - y * y / scale), Tensor()};
  }
};

// out0 = a * b, out1 = a + sum(list): two outputs, a list argument, inputs saved.
struct MulAndSum : autograd::Function<MulAndSum> {
  static std::vector<Tensor> forward(FunctionCtx& ctx, const Tensor& a, const Tensor& b,
                                     const std::vector<Tensor>& list) {
    ctx.save_for_backward({a, b});
    Tensor s = a.clone();
    for (const Tensor& t : list) s = s + t;
    return {a * b, s};
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    auto saved = ctx.saved();
    const Tensor &a = saved[0], &b = saved[1];
    std::vector<Tensor> out{g[0] * b + g[1], g[0] * a};
    for (size_t i = 2; i < 4; ++i) out.push_back(ctx.needs_input_grad(i) ? g[1] : Tensor());  // the list's two
    return out;
  }
};

// Returns (sorted values, their int64 indices): the indices are marked non-differentiable.
struct ArgmaxPair : autograd::Function<ArgmaxPair> {
  static std::vector<Tensor> forward(FunctionCtx& ctx, const Tensor& x) {
    Tensor idx = argmax(x, 0, true);
    Tensor v = x * 2;
    ctx.mark_non_differentiable({idx});
    return {v, idx};
  }
  static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>& g) { return {g[0] * 2}; }
};

struct WrongCount : autograd::Function<WrongCount> {
  static constexpr const char* kName = "wrong_count";
  static Tensor forward(FunctionCtx&, const Tensor& x, const Tensor& y) { return x * y; }
  static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>& g) { return {g[0]}; }
};

struct WrongShape : autograd::Function<WrongShape> {
  static constexpr const char* kName = "wrong_shape";
  static Tensor forward(FunctionCtx&, const Tensor& x) { return x.sum(); }
  static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>& g) { return {g[0].reshape({1})}; }
};

struct SaveInput : autograd::Function<SaveInput> {
  static constexpr const char* kName = "save_input";
  static Tensor forward(FunctionCtx& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x;
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    return {g[0] * 2 * ctx.saved()[0]};
  }
};

}  // namespace

TEST_CASE("a custom Function's gradients match finite differences, twice", "[autograd][function]") {
  Tensor x = randn({3, 4}, {.dtype = kF64}).requires_grad_();
  const TensorFn f = [](const TensorList& in) { return TensorList{ScaledTanh::apply(in[0], 1.7)}; };
  const GradcheckResult r1 = gradcheck(f, {x});
  INFO(r1.message);
  CHECK(r1.ok);
  const GradcheckResult r2 = gradgradcheck(f, {x});
  INFO(r2.message);
  CHECK(r2.ok);
  Tensor y = ScaledTanh::apply(x, 2.0);
  CHECK(y.grad_fn_name() == "scaled_tanh");
  // Hand-computed: d/dx sum(2 tanh x) = 2 (1 - tanh^2 x).
  y.sum().backward();
  const Tensor want = (1 - tanh(x.detach()).square()) * 2;
  std::string why;
  CHECK(all_close(x.grad(), want, 1e-12, why));
}

TEST_CASE("a custom Function with two outputs and a list argument", "[autograd][function]") {
  Tensor a = randn({2, 3}, {.dtype = kF64}).requires_grad_();
  Tensor b = randn({2, 3}, {.dtype = kF64}).requires_grad_();
  Tensor c = randn({2, 3}, {.dtype = kF64}).requires_grad_();
  Tensor d = randn({2, 3}, {.dtype = kF64});  // needs no gradient
  const TensorFn f = [&](const TensorList& in) {
    auto out = MulAndSum::apply(in[0], in[1], std::vector<Tensor>{in[2], d});
    return TensorList{out[0], out[1]};
  };
  const GradcheckResult r = gradcheck(f, {a, b, c});
  INFO(r.message);
  CHECK(r.ok);
  // Only the second output used: the first output's gradient arrives as zeros.
  auto out = MulAndSum::apply(a, b, std::vector<Tensor>{c, d});
  out[1].sum().backward();
  CHECK(a.grad().sum().item<double>() == Approx(6.0));
  CHECK((!b.grad().defined() || b.grad().abs().sum().item<double>() == 0.0));
  CHECK(c.grad().sum().item<double>() == Approx(6.0));
}

TEST_CASE("a custom Function's non-differentiable outputs and no-grad calls", "[autograd][function]") {
  Tensor x = tensor({1.0, 5.0, 2.0}).requires_grad_();
  auto out = ArgmaxPair::apply(x);
  CHECK(out[0].requires_grad());
  CHECK_FALSE(out[1].requires_grad());
  CHECK(out[1].item<int64_t>() == 1);
  out[0].sum().backward();
  CHECK(x.grad().tolist<float>() == std::vector<float>{2, 2, 2});
  {
    NoGradGuard no_grad;
    CHECK_FALSE(ScaledTanh::apply(x, 1.0).requires_grad());
  }
  CHECK_FALSE(ScaledTanh::apply(x.detach(), 1.0).requires_grad());
}

TEST_CASE("a custom Function's wrong backward is an error naming it", "[autograd][function]") {
  Tensor x = ones({2}).requires_grad_(), y = ones({2}).requires_grad_();
  CHECK_THROWS_WITH(WrongCount::apply(x, y).sum().backward(),
                    Catch::Matchers::Contains("[wrong_count]") && Catch::Matchers::Contains("returned 1 gradients"));
  CHECK_THROWS_WITH(WrongShape::apply(x).backward(),
                    Catch::Matchers::Contains("[wrong_shape]") && Catch::Matchers::Contains("shape [1]"));
  // A saved input changed in place before backward.
  Tensor z = ones({2}).requires_grad_();
  Tensor w = z * 1;
  Tensor out = SaveInput::apply(w);
  w.mul_(3);
  CHECK_THROWS_WITH(out.sum().backward(),
                    Catch::Matchers::Contains("[save_input]") && Catch::Matchers::Contains("modified by an in-place"));
  // A second backward without retain_graph.
  Tensor q = SaveInput::apply(z).sum();
  q.backward();
  CHECK_THROWS_WITH(q.backward(), Catch::Matchers::Contains("second time"));
}
