// GradScaler: scale values over clean and overflowing steps against hand-computed ones, skipped steps leave the
// parameters bitwise unchanged, misuse errors, the state dict round trip and the disabled pass-through.
#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "../test_util.h"
#include "optim_test_util.h"

using namespace ds;
using namespace ds::optim;
using namespace optim_test;
using Catch::Matchers::Contains;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

TEST_CASE("GradScaler starts at torch's defaults and scales the loss", "[optim][grad_scaler]") {
  GradScaler scaler;
  CHECK(scaler.is_enabled());
  CHECK(scaler.get_scale() == 65536.0);
  CHECK(scaler.options().growth_interval == 2000);
  CHECK(scaler.options().backoff_factor == 0.5);
  CHECK(scaler.options().growth_factor == 2.0);
  const Tensor loss = tensor({1.5}).to(kF32).reshape({});
  const Tensor scaled = scaler.scale(loss);
  CHECK(scaled.dtype() == kF32);
  CHECK(scaled.item<double>() == 1.5 * 65536.0);
}

TEST_CASE("GradScaler: scale across clean and inf steps, unscaled updates, skipped steps", "[optim][grad_scaler]") {
  Tensor p = param({1.0, -2.0});
  SGD opt({p}, {.lr = 0.5});
  GradScaler scaler({.init_scale = 8.0, .growth_interval = 2});
  double scale = 8.0;
  std::vector<double> expected = {1.0, -2.0};
  int64_t skipped = 0;
  // true: a clean step with gradient (1, 2) (before scaling); false: a gradient holding an inf (or NaN).
  const std::vector<bool> clean = {true, true, false, true, false, true, true, true};
  // Hand-computed scales after each update: growth every 2 clean steps in a row, halving on overflow.
  const std::vector<double> scales = {8, 16, 8, 8, 4, 4, 8, 8};
  for (size_t i = 0; i < clean.size(); ++i) {
    INFO("iteration " << i);
    scale = scaler.get_scale();
    if (clean[i]) set_grad(p, {1.0 * scale, 2.0 * scale});
    else set_grad(p, {i == 2 ? kInf : std::nan(""), 1.0});
    const Tensor before = p.detach().clone();
    const bool stepped = scaler.step(opt);
    CHECK(stepped == clean[i]);
    if (clean[i]) {
      expected[0] -= 0.5 * 1.0;
      expected[1] -= 0.5 * 2.0;
      check_close(p, expected);
      check_close(p.grad(), {1.0, 2.0});
    } else {
      ++skipped;
      CHECK(equal_bits(p.detach(), before));  // a skipped step leaves the parameter bitwise unchanged
    }
    scaler.update();
    CHECK(scaler.get_scale() == scales[i]);
    opt.zero_grad();
  }
  CHECK(scaler.skipped_steps() == skipped);
  CHECK(scaler.skipped_steps() == 2);
}

TEST_CASE("GradScaler: unscale_ before step unscales once; misuse is an error", "[optim][grad_scaler]") {
  Tensor p = param({0.0, 0.0});
  SGD opt({p}, {.lr = 1.0});
  GradScaler scaler({.init_scale = 4.0});
  set_grad(p, {4.0, -8.0});
  scaler.unscale_(opt);
  check_close(p.grad(), {1.0, -2.0});
  CHECK_THROWS_WITH(scaler.unscale_(opt), Contains("unscale_() has already been called"));
  CHECK(scaler.step(opt));  // does not unscale again
  check_close(p, {-1.0, 2.0});
  CHECK_THROWS_WITH(scaler.step(opt), Contains("step() has already been called"));
  scaler.update();
  CHECK_THROWS_WITH(scaler.update(), Contains("no inf checks"));
  // After update a new iteration may unscale again.
  set_grad(p, {4.0, 4.0});
  CHECK_NOTHROW(scaler.unscale_(opt));
}

TEST_CASE("GradScaler: an inf in one float32 tensor among several skips the whole step", "[optim][grad_scaler]") {
  Tensor a = ones({3}).requires_grad_(), b = ones({2, 2}).requires_grad_(), c = ones({1}).requires_grad_();
  SGD opt({a, b, c}, {.lr = 0.1});
  GradScaler scaler({.init_scale = 2.0});
  a.set_grad(full({3}, 2.0));
  b.set_grad(cat({full({1}, INFINITY), full({3}, 2.0)}).reshape({2, 2}));
  const Tensor a0 = a.detach().clone(), b0 = b.detach().clone(), c0 = c.detach().clone();
  CHECK_FALSE(scaler.step(opt));  // c has no gradient: skipped, not an error
  CHECK(equal_bits(a.detach(), a0));
  CHECK(equal_bits(b.detach(), b0));
  CHECK(equal_bits(c.detach(), c0));
  scaler.update();
  CHECK(scaler.get_scale() == 1.0);
}

TEST_CASE("GradScaler state_dict round trip", "[optim][grad_scaler]") {
  Tensor p = param({1.0});
  SGD opt({p}, {.lr = 0.1});
  GradScaler a({.init_scale = 1024.0, .growth_interval = 3});
  for (int i = 0; i < 5; ++i) {
    set_grad(p, {i == 1 ? kInf : 1.0});
    a.step(opt);
    a.update();
  }
  // Clean, inf (512), clean, clean, clean (1024 after 3 clean in a row), tracker 0.
  CHECK(a.get_scale() == 1024.0);
  CHECK(a.growth_tracker() == 0);
  set_grad(p, {1.0});
  a.step(opt);
  a.update();
  CHECK(a.growth_tracker() == 1);
  const StateDict sd = a.state_dict();
  CHECK(sd.real("scale") == 1024.0);
  CHECK(sd.integer("_growth_tracker") == 1);
  CHECK(sd.integer("growth_interval") == 3);

  GradScaler b;
  b.load_state_dict(sd);
  CHECK(b.get_scale() == 1024.0);
  CHECK(b.growth_tracker() == 1);
  CHECK(b.skipped_steps() == 1);
  CHECK(b.options().growth_interval == 3);
  // They continue identically.
  for (GradScaler* s : {&a, &b}) {
    set_grad(p, {1.0});
    s->step(opt);
    s->update();
    set_grad(p, {1.0});
    s->step(opt);
    s->update();
  }
  CHECK(a.get_scale() == b.get_scale());
  CHECK(a.get_scale() == 2048.0);

  StateDict missing = sd;
  missing.erase("scale");
  CHECK_THROWS_WITH(b.load_state_dict(missing), Contains("scale"));
}

TEST_CASE("GradScaler disabled is a pass-through", "[optim][grad_scaler]") {
  Tensor p = param({1.0});
  SGD opt({p}, {.lr = 1.0});
  GradScaler scaler({.enabled = false});
  CHECK(scaler.get_scale() == 1.0);
  const Tensor loss = tensor({3.0}).reshape({});
  CHECK(scaler.scale(loss).item<double>() == 3.0);
  set_grad(p, {2.0});
  CHECK(scaler.step(opt));
  check_close(p, {-1.0});
  CHECK_NOTHROW(scaler.update());
  CHECK(scaler.state_dict().empty());
}
