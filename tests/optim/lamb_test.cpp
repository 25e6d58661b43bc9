// LAMB against a hand-computed first step, the zero-norm rule and a double-precision transcription of the algorithm.
#include <cmath>

#include <catch2/catch.hpp>

#include "../test_util.h"
#include "optim_test_util.h"

using namespace ds;
using namespace ds::optim;
using namespace optim_test;

namespace {

struct LAMBReference {
  LAMBOptions o;
  std::vector<double> m, v;
  int t = 0;
  void step(std::vector<double>& p, const std::vector<double>& g) {
    if (m.empty()) m = v = std::vector<double>(p.size(), 0.0);
    ++t;
    std::vector<double> u(p.size());
    double pn = 0, un = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(o.beta1, t)), v_hat = v[i] / (1 - std::pow(o.beta2, t));
      u[i] = m_hat / (std::sqrt(v_hat) + o.eps) + o.weight_decay * p[i];
      pn += p[i] * p[i];
      un += u[i] * u[i];
    }
    pn = std::sqrt(pn);
    un = std::sqrt(un);
    const double r = pn > 0 && un > 0 ? pn / un : 1.0;
    for (size_t i = 0; i < p.size(); ++i) p[i] -= o.lr * r * u[i];
  }
};

}  // namespace

TEST_CASE("LAMB's first step is Adam's direction scaled by ||p|| / ||u||", "[optim]") {
  Tensor p = param({3, 4});
  LAMB opt({p}, {.lr = 0.1});
  set_grad(p, {1, -1});
  opt.step();
  // u = g / (|g| + 1e-6) ~ [1, -1] (|u| = sqrt(2) u0), ||p|| = 5: p -= 0.1 * 5 / ||u|| * u = 0.1 * 5 / sqrt(2) * [1, -1].
  const double u0 = 1 / (1 + 1e-6);
  const double r = 5 / (std::sqrt(2.0) * u0);
  check_close(p, {3 - 0.1 * r * u0, 4 + 0.1 * r * u0});
  CHECK(values(p)[0] == Approx(3 - 0.5 / std::sqrt(2.0)).epsilon(1e-9));
}

TEST_CASE("LAMB's trust ratio is 1 when the weight or the update norm is 0", "[optim]") {
  Tensor zero = param({0, 0}), still = param({1, 2});
  LAMB opt({zero, still}, {.lr = 0.1});
  set_grad(zero, {2, -0.5});
  set_grad(still, {0, 0});  // u = 0: r = 1, nothing moves
  opt.step();
  check_close(zero, {-0.1 * 2 / (2 + 1e-6), 0.1 * 0.5 / (0.5 + 1e-6)});
  CHECK(values(still) == std::vector<double>{1, 2});
}

TEST_CASE("LAMB matches the reference, with weight decay and per-group options", "[optim]") {
  std::vector<double> ra = {0.5, -1.5, 2.0}, rb = {1, 1};
  Tensor a = param(ra), b = param(rb);
  LAMB opt({ParamGroup({a}), ParamGroup({b}, {{"lr", 0.01}, {"weight_decay", 0}, {"beta1", 0.5}})},
           {.lr = 0.05, .weight_decay = 0.1});
  LAMBReference ref_a{{.lr = 0.05, .weight_decay = 0.1}}, ref_b{{.lr = 0.01, .beta1 = 0.5}};
  step_two_groups(opt, a, ra, ref_a, b, rb, ref_b);
  CHECK(opt.state_dict().integer("state.1.step") == 3);
}
