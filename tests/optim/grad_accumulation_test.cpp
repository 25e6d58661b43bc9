// Gradient accumulation: k micro-batches of b samples give the gradient of one batch of k*b samples.
#include <catch2/catch.hpp>

#include "../test_util.h"
#include "optim_test_util.h"

using namespace ds;
using namespace ds::optim;
using namespace optim_test;
using Catch::Matchers::Contains;

TEST_CASE("GradAccumulation says when to step", "[optim]") {
  GradAccumulation acc(3);
  CHECK(acc.loss_scale() == Approx(1.0 / 3));
  std::vector<bool> steps;
  std::vector<bool> last;
  for (int i = 0; i < 7; ++i) {
    last.push_back(acc.is_last_micro_step());
    steps.push_back(acc.micro_step());
  }
  CHECK(steps == std::vector<bool>{false, false, true, false, false, true, false});
  CHECK(last == std::vector<bool>{false, false, true, false, false, true, false});
  CHECK(acc.position() == 1);

  GradAccumulation resumed(3);
  resumed.load_state_dict(acc.state_dict());
  CHECK(resumed.position() == 1);
  CHECK_FALSE(resumed.micro_step());
  CHECK(resumed.micro_step());

  GradAccumulation one(1);
  CHECK(one.micro_step());
  Tensor loss = tensor({2.0});
  CHECK(one.scale(loss).is_same(loss));

  CHECK_THROWS_WITH(GradAccumulation(0), Contains("[GradAccumulation] steps must be at least 1, got 0"));
  StateDict bad;
  bad.set("position", int64_t{3});
  CHECK_THROWS_WITH(resumed.load_state_dict(bad), Contains("key 'position' must be an integer in [0, 3)"));
  CHECK_THROWS_WITH(resumed.load_state_dict(StateDict()), Contains("missing key 'position'"));
}

TEST_CASE("k micro-batches of size b accumulate to the gradient of one batch of size k*b", "[optim]") {
  constexpr int k = 3, b = 2;
  Generator gen(11);
  const TensorOptions f64{.dtype = kF64};
  const Tensor x = randn({k * b, 4}, f64, &gen), y = randn({k * b, 3}, f64, &gen);
  const Tensor w0 = randn({3, 4}, f64, &gen), b0 = randn({3}, f64, &gen);

  // One batch of k*b.
  Tensor w = w0.clone().requires_grad_(), bias = b0.clone().requires_grad_();
  mse_loss(linear(x, w, bias), y).backward();

  // k micro-batches of b, each loss scaled by 1/k, stepping only after the k-th.
  Tensor wm = w0.clone().requires_grad_(), bm = b0.clone().requires_grad_();
  SGD opt({wm, bm}, {.lr = 0.1});
  GradAccumulation acc(k);
  const Tensor w_before = wm.detach().clone();
  for (int i = 0; i < k; ++i) {
    acc.scale(mse_loss(linear(x.narrow(0, i * b, b), wm, bm), y.narrow(0, i * b, b))).backward();
    const bool step = acc.micro_step();
    CHECK(step == (i == k - 1));
    if (!step) continue;
    check_close(wm.grad(), values(w.grad()));
    check_close(bm.grad(), values(bias.grad()));
    opt.step();
    opt.zero_grad();
  }
  // The step is the full-batch step.
  const std::vector<double> gw = values(w.grad()), wb = values(w_before);
  std::vector<double> expected(wb.size());
  for (size_t i = 0; i < wb.size(); ++i) expected[i] = wb[i] - 0.1 * gw[i];
  check_close(wm, expected);
  CHECK_FALSE(wm.grad().defined());
}
