// Lion against hand-computed steps and a double-precision transcription of the algorithm.
#include <cmath>

#include <catch2/catch.hpp>

#include "../test_util.h"
#include "optim_test_util.h"

using namespace ds;
using namespace ds::optim;
using namespace optim_test;

namespace {

double sgn(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

struct LionReference {
  LionOptions o;
  std::vector<double> m;
  void step(std::vector<double>& p, const std::vector<double>& g) {
    if (m.empty()) m.assign(p.size(), 0);
    for (size_t i = 0; i < p.size(); ++i) {
      p[i] *= 1 - o.lr * o.weight_decay;
      p[i] -= o.lr * sgn(o.beta1 * m[i] + (1 - o.beta1) * g[i]);
      m[i] = o.beta2 * m[i] + (1 - o.beta2) * g[i];
    }
  }
};

}  // namespace

TEST_CASE("Lion: two steps by hand", "[optim]") {
  Tensor p = param({1, -2, 0.5});
  Lion opt({p}, {.lr = 0.1});
  CHECK(opt.defaults().at("beta2") == 0.99);
  // 1: m = 0, c = 0.1 g: sign = [1, -1, 0];    p = [0.9, -1.9, 0.5];  m = 0.01 g = [0.003, -0.002, 0]
  set_grad(p, {0.3, -0.2, 0});
  opt.step();
  check_close(p, {0.9, -1.9, 0.5});
  check_close(opt.state_dict().tensor("state.0.exp_avg"), {0.003, -0.002, 0});
  // 2: c = 0.9 m + 0.1 g = [0.0027 - 0.01, -0.0018 - 0.02, 0.005]: sign = [-1, -1, 1];  p = [1.0, -1.8, 0.4]
  set_grad(p, {-0.1, -0.2, 0.05});
  opt.step();
  check_close(p, {1.0, -1.8, 0.4});
  // m = 0.99 [0.003, -0.002, 0] + 0.01 [-0.1, -0.2, 0.05]
  check_close(opt.state_dict().tensor("state.0.exp_avg"), {0.00297 - 0.001, -0.00198 - 0.002, 0.0005});
}

TEST_CASE("Lion's decoupled weight decay and groups match the reference", "[optim]") {
  std::vector<double> ra = {0.5, -1.5, 2.0}, rb = {3, -3};
  Tensor a = param(ra), b = param(rb);
  Lion opt({ParamGroup({a}), ParamGroup({b}, {{"lr", 0.001}, {"weight_decay", 1.0}, {"beta1", 0.5}})},
           {.lr = 0.01, .weight_decay = 0.1});
  LionReference ref_a{{.lr = 0.01, .weight_decay = 0.1}}, ref_b{{.lr = 0.001, .beta1 = 0.5, .weight_decay = 1.0}};
  step_two_groups(opt, a, ra, ref_a, b, rb, ref_b);
}
