// Gradient clipping by joint norm (2, 1, inf; non-finite totals) and by value.
#include <cmath>

#include <catch2/catch.hpp>

#include "../test_util.h"
#include "optim_test_util.h"

using namespace ds;
using namespace ds::optim;
using namespace optim_test;
using Catch::Matchers::Contains;

TEST_CASE("clip_grad_norm_ scales all gradients by max_norm / total when the total is larger", "[optim]") {
  Tensor a = param({0, 0}), b = param({0}), none = param({5});
  const std::vector<Tensor> params = {a, b, none};
  set_grad(a, {3, 4});
  set_grad(b, {-12});
  // ||(3, 4, -12)|| = 13; below max_norm nothing changes.
  CHECK(clip_grad_norm_(params, 20).item<double>() == Approx(13).epsilon(1e-15));
  CHECK(values(a.grad()) == std::vector<double>{3, 4});
  CHECK(values(b.grad()) == std::vector<double>{-12});
  CHECK_FALSE(none.grad().defined());

  CHECK(clip_grad_norm_(params, 6.5).item<double>() == Approx(13).epsilon(1e-15));
  const double coef = 6.5 / (13 + 1e-6);
  check_close(a.grad(), {3 * coef, 4 * coef});
  check_close(b.grad(), {-12 * coef});

  // Max-norm: the largest |g| is 12 (before this clip: scale back first).
  set_grad(a, {3, 4});
  set_grad(b, {-12});
  CHECK(clip_grad_norm_(params, 6, INFINITY).item<double>() == 12);
  check_close(b.grad(), {-12 * 6 / (12 + 1e-6)});
  check_close(a.grad(), {3 * 6 / (12 + 1e-6), 4 * 6 / (12 + 1e-6)});

  // 1-norm: 3 + 4 + 12.
  set_grad(a, {3, 4});
  set_grad(b, {-12});
  CHECK(clip_grad_norm_(params, 100, 1).item<double>() == Approx(19).epsilon(1e-15));

  CHECK(clip_grad_norm_({none}, 1.0).item<double>() == 0);  // nothing to clip
}

TEST_CASE("grad_norm is the joint norm, a 0-d float64 tensor, and leaves the gradients alone", "[optim]") {
  Tensor a = param({0, 0}), b = param({0}), none = param({5});
  set_grad(a, {3, 4});
  set_grad(b, {-12});
  const Tensor total = grad_norm({a, b, none});
  CHECK(total.dim() == 0);
  CHECK(total.dtype() == kF64);
  CHECK(total.item<double>() == Approx(13).epsilon(1e-15));
  CHECK(grad_norm({a, b}, INFINITY).item<double>() == 12);
  CHECK(grad_norm({a, b}, 1).item<double>() == Approx(19).epsilon(1e-15));
  CHECK(values(a.grad()) == std::vector<double>{3, 4});
  CHECK(values(b.grad()) == std::vector<double>{-12});
  CHECK(grad_norm({none}).item<double>() == 0);
  CHECK_THROWS_WITH(grad_norm({a}, -2), Contains("[grad_norm] norm_type must be positive"));
}

TEST_CASE("clip_grad_norm_ in float32", "[optim]") {
  Tensor w = from_vector(std::vector<float>{1, 1, 1, 1}).requires_grad_();
  w.set_grad(from_vector(std::vector<float>{2, 2, 2, 2}));  // norm 4
  CHECK(clip_grad_norm_({w}, 1.0).item<double>() == Approx(4).epsilon(1e-7));
  for (float g : w.grad().tolist<float>()) CHECK(g == Approx(0.5).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm_ reports a non-finite total, or refuses it on request", "[optim]") {
  Tensor a = param({0, 0}), b = param({0});
  set_grad(a, {INFINITY, 1});
  set_grad(b, {2});
  const std::string msg = [&] {
    try {
      clip_grad_norm_({a, b}, 1.0, 2.0, true);
    } catch (const ds::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  CHECK_THAT(msg, Contains("[clip_grad_norm_] the total norm of order 2 of the gradients of 2 tensors is non-finite "
                           "(inf)"));
  CHECK(values(b.grad()) == std::vector<double>{2});  // refused: untouched

  // Without the flag: the total comes back as it is and the gradients are scaled by 1 / inf = 0, as torch.
  CHECK(std::isinf(clip_grad_norm_({a, b}, 1.0).item<double>()));
  CHECK(values(b.grad()) == std::vector<double>{0});
  set_grad(b, {NAN});
  CHECK(std::isnan(clip_grad_norm_({b}, 1.0).item<double>()));

  CHECK_THROWS_WITH(clip_grad_norm_({a}, 1.0, 0.0), Contains("[clip_grad_norm_] norm_type must be positive"));
  CHECK_THROWS_WITH(clip_grad_norm_({a}, -1.0), Contains("[clip_grad_norm_] max_norm must be non-negative"));
}

TEST_CASE("clip_grad_value_ clamps every gradient element", "[optim]") {
  Tensor a = param({0, 0, 0}), b = param({0});
  set_grad(a, {-3, 0.5, 2});
  set_grad(b, {-0.25});
  clip_grad_value_({a, b, param({1})}, 1.0);
  CHECK(values(a.grad()) == std::vector<double>{-1, 0.5, 1});
  CHECK(values(b.grad()) == std::vector<double>{-0.25});
  CHECK_THROWS_AS(clip_grad_value_({a}, -1), ds::Error);
  CHECK_THROWS_WITH(clip_grad_value_({a}, -1), Contains("[clip_grad_value_] clip_value must be non-negative"));
}
