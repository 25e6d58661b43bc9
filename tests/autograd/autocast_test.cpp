// Autocast: matmul/conv in bf16 with f32 gradients for f32 weights, reductions and exp/log in f32, everything else
// untouched; the guard nests and restores; the policy names real primitives.
#include <algorithm>
#include <cmath>
#include <string>

#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/ops/op_def.h>

using namespace ds;

namespace {

// |a - b| <= rel * max|b| elementwise (bf16 keeps 8 bits: about 4e-3 relative per rounding).
void check_close_rel(const Tensor& a, const Tensor& b, double rel) {
  const std::vector<double> x = a.to(kF64).tolist<double>(), y = b.to(kF64).tolist<double>();
  REQUIRE(x.size() == y.size());
  double scale = 0;
  for (double v : y) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("element " << i << ": got " << x[i] << ", expected " << y[i]);
    CHECK(std::abs(x[i] - y[i]) <= rel * scale);
  }
}

}  // namespace

TEST_CASE("autocast runs matmul in bf16 and gives the f32 weight an f32 gradient close to the f32 run",
          "[autograd][autocast]") {
  Generator gen(3);
  const Tensor x = randn({6, 8}, {}, &gen);
  const Tensor w = randn({8, 5}, {}, &gen).requires_grad_();
  const Tensor target = randn({6, 5}, {}, &gen);

  // f32 reference, on a copy of the weight.
  const Tensor w32 = w.detach().clone().requires_grad_();
  Tensor y32 = matmul(x, w32);
  REQUIRE(y32.dtype() == kF32);
  (y32 * target).sum().backward();
  const Tensor g32 = w32.grad();

  Tensor loss;
  {
    AutocastGuard guard(kBF16);
    CHECK(is_autocast_enabled());
    const Tensor y = matmul(x, w);
    CHECK(y.dtype() == kBF16);
    loss = (y * target).sum();  // bf16 * f32 promotes to f32; the sum stays f32
    CHECK(loss.dtype() == kF32);
    check_close_rel(y, y32.detach(), 1e-2);
  }
  loss.backward();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().dtype() == kF32);
  check_close_rel(w.grad(), g32, 1e-2);
}

TEST_CASE("autocast runs conv2d in bf16 with f32 gradients for f32 weights", "[autograd][autocast]") {
  Generator gen(5);
  const Tensor x = randn({2, 3, 6, 6}, {}, &gen).requires_grad_();
  const Tensor w = randn({4, 3, 3, 3}, {}, &gen).requires_grad_();
  const Tensor x32 = x.detach().clone().requires_grad_(), w32 = w.detach().clone().requires_grad_();
  Tensor ref = conv2d(x32, w32);
  ref.sum().backward();
  const Tensor gx = x32.grad(), gw = w32.grad();
  {
    AutocastGuard guard;
    const Tensor y = conv2d(x, w);
    CHECK(y.dtype() == kBF16);
    check_close_rel(y, ref.detach(), 1e-2);
    y.sum().backward();  // conv2d's backward halves are autocast too
  }
  CHECK(w.grad().dtype() == kF32);
  CHECK(x.grad().dtype() == kF32);
  check_close_rel(w.grad(), gw, 1e-2);
  check_close_rel(x.grad(), gx, 1e-2);
}

TEST_CASE("autocast keeps reductions and exp/log in f32 and leaves other ops alone", "[autograd][autocast]") {
  const Tensor a = tensor({1.0, 2.0, 3.0}).to(kF32);
  const Tensor h = a.to(kBF16);
  AutocastGuard guard(kBF16);
  CHECK(sum(a).dtype() == kF32);  // a sum stays f32
  CHECK(sum(h).dtype() == kF32);  // and a bf16 one is computed in f32
  CHECK(exp(h).dtype() == kF32);
  CHECK(log(h).dtype() == kF32);
  CHECK(softmax(h, 0).dtype() == kF32);
  CHECK((h + h).dtype() == kBF16);  // elementwise: whatever it gets
  CHECK((a * a).dtype() == kF32);
  CHECK(relu(h).dtype() == kBF16);
  const Tensor d = a.to(kF64).reshape({1, 3});
  CHECK(matmul(d, d.t()).dtype() == kF64);  // f64 is never cast
  CHECK(sum(h).item<double>() == 6.0);
}

TEST_CASE("outside the guard nothing changes, and the guard restores the previous state", "[autograd][autocast]") {
  const Tensor x = ones({2, 2});
  CHECK_FALSE(is_autocast_enabled());
  CHECK(matmul(x, x).dtype() == kF32);
  CHECK(sum(x.to(kBF16)).dtype() == kBF16);
  {
    AutocastGuard outer(kBF16);
    CHECK(matmul(x, x).dtype() == kBF16);
    {
      AutocastGuard off(kBF16, false);
      CHECK_FALSE(is_autocast_enabled());
      CHECK(matmul(x, x).dtype() == kF32);
    }
    CHECK(is_autocast_enabled());
    {
      AutocastGuard inner(kF16);
      CHECK(autocast_dtype() == kF16);
    }
    CHECK(autocast_dtype() == kBF16);
    CHECK(matmul(x, x).dtype() == kBF16);
    // In-place ops keep their target's dtype.
    Tensor h = x.to(kBF16);
    h.mul_(2.0);
    CHECK(h.dtype() == kBF16);
  }
  CHECK_FALSE(is_autocast_enabled());
  CHECK(matmul(x, x).dtype() == kF32);
  {
    AutocastGuard cpu(kCPU);
    CHECK(autocast_dtype() == kBF16);
  }
  CHECK_THROWS_WITH(AutocastGuard(kF32), Catch::Contains("bf16 or f16"));
}

TEST_CASE("the autocast policy is the rows' autocast class", "[autograd][autocast]") {
  auto has = [](const std::vector<std::string_view>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  const auto low = autocast_low_precision_ops(), f32 = autocast_f32_ops();
  for (std::string_view name : {"matmul", "conv2d", "conv2d_input_grad", "conv2d_weight_grad"}) {
    INFO(std::string(name));
    CHECK(has(low, name));
    CHECK(!has(f32, name));
  }
  for (std::string_view name : {"sum", "prod", "cumsum", "exp", "log", "pow", "rsqrt", "layer_norm",
                                "softmax_cross_entropy"}) {
    INFO(std::string(name));
    CHECK(has(f32, name));
  }
  CHECK(!has(low, "add"));
  CHECK(!has(f32, "add"));
  CHECK(low.size() == 4);
}
