// Adam and AdamW against a hand-computed first step and a plain double-precision transcription of the algorithm
// (Kingma & Ba, with torch's L2 / decoupled weight decay, amsgrad and maximize).
#include <cmath>

#include <catch2/catch.hpp>

#include "../test_util.h"
#include "optim_test_util.h"

using namespace ds;
using namespace ds::optim;
using namespace optim_test;

namespace {

struct AdamReference {
  AdamOptions o;
  bool decoupled = false;
  std::vector<double> m, v, vmax;
  int t = 0;
  void step(std::vector<double>& p, const std::vector<double>& grad) {
    if (m.empty()) m = v = vmax = std::vector<double>(p.size(), 0.0);
    ++t;
    for (size_t i = 0; i < p.size(); ++i) {
      double g = o.maximize ? -grad[i] : grad[i];
      if (decoupled) p[i] *= 1 - o.lr * o.weight_decay;
      else g += o.weight_decay * p[i];
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
      vmax[i] = std::max(vmax[i], v[i]);
      const double m_hat = m[i] / (1 - std::pow(o.beta1, t));
      const double v_hat = (o.amsgrad ? vmax[i] : v[i]) / (1 - std::pow(o.beta2, t));
      p[i] -= o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
    }
  }
};

AdamOptions as_adam(const AdamWOptions& w) {
  return {.lr = w.lr, .beta1 = w.beta1, .beta2 = w.beta2, .eps = w.eps, .weight_decay = w.weight_decay,
          .amsgrad = w.amsgrad, .maximize = w.maximize};
}

}  // namespace

TEST_CASE("Adam's first step moves each coordinate by about lr against its gradient's sign", "[optim]") {
  Tensor p = param({1, -2, 3});
  Adam opt({p}, {.lr = 0.1});
  set_grad(p, {0.5, -1, 2});
  opt.step();
  // m = 0.1 g, v = 0.001 g^2; bias-corrected m_hat = g, v_hat = g^2: p -= 0.1 * g / (|g| + 1e-8).
  check_close(p, {1 - 0.1 * 0.5 / (0.5 + 1e-8), -2 + 0.1 * 1 / (1 + 1e-8), 3 - 0.1 * 2 / (2 + 1e-8)});
  const StateDict sd = opt.state_dict();
  check_close(sd.tensor("state.0.exp_avg"), {0.05, -0.1, 0.2});
  check_close(sd.tensor("state.0.exp_avg_sq"), {0.001 * 0.25, 0.001, 0.004});
  CHECK(sd.integer("state.0.step") == 1);
  // Second step with g = [0.5, 0, 0]: m = [0.095, -0.09, 0.18], v = [0.0004997..., 0.000999, 0.003996].
  set_grad(p, {0.5, 0, 0});
  opt.step();
  const double bc1 = 1 - 0.81, bc2 = 1 - 0.999 * 0.999;
  const double m0 = 0.9 * 0.05 + 0.1 * 0.5, v0 = 0.999 * 0.00025 + 0.001 * 0.25;
  const double m1 = -0.09, v1 = 0.000999, m2 = 0.18, v2 = 0.003996;
  check_close(p, {1 - 0.1 * 0.5 / (0.5 + 1e-8) - 0.1 * (m0 / bc1) / (std::sqrt(v0 / bc2) + 1e-8),
                  -2 + 0.1 / (1 + 1e-8) - 0.1 * (m1 / bc1) / (std::sqrt(v1 / bc2) + 1e-8),
                  3 - 0.2 / (2 + 1e-8) - 0.1 * (m2 / bc1) / (std::sqrt(v2 / bc2) + 1e-8)});
}

TEST_CASE("Adam and AdamW match the reference algorithm for every option", "[optim]") {
  const std::vector<AdamOptions> adam_configs = {
      {.lr = 0.01},
      {.lr = 0.01, .beta1 = 0.8, .beta2 = 0.9, .eps = 1e-6},
      {.lr = 0.01, .weight_decay = 0.1},
      {.lr = 0.01, .weight_decay = 0.05, .amsgrad = true},
      {.lr = 0.02, .amsgrad = true, .maximize = true},
  };
  for (size_t c = 0; c < adam_configs.size(); ++c) {
    INFO("Adam config " << c);
    std::vector<double> ref = {0.5, -1.5, 2.0};
    Tensor p = param(ref);
    Adam opt({p}, adam_configs[c]);
    AdamReference reference{adam_configs[c]};
    for (int s = 0; s < 3; ++s) {
      const auto g = test_grad(ref, s);
      set_grad(p, g);
      opt.step();
      reference.step(ref, g);
      check_close(p, ref);
      CHECK(values(p.grad()) == g);
    }
  }
  const std::vector<AdamWOptions> adamw_configs = {
      {.lr = 0.01},
      {.lr = 0.01, .weight_decay = 0.5},
      {.lr = 0.01, .weight_decay = 0.1, .amsgrad = true, .maximize = true},
  };
  for (size_t c = 0; c < adamw_configs.size(); ++c) {
    INFO("AdamW config " << c);
    std::vector<double> ref = {0.5, -1.5, 2.0};
    Tensor p = param(ref);
    AdamW opt({p}, adamw_configs[c]);
    AdamReference reference{as_adam(adamw_configs[c]), true};
    for (int s = 0; s < 3; ++s) {
      const auto g = test_grad(ref, s);
      set_grad(p, g);
      opt.step();
      reference.step(ref, g);
      check_close(p, ref);
    }
  }
  CHECK(AdamW({param({1})}).defaults().at("weight_decay") == 0.01);  // torch's AdamW default
  CHECK(Adam({param({1})}).defaults().at("weight_decay") == 0);
}

TEST_CASE("amsgrad keeps the largest second moment", "[optim]") {
  // A large gradient, then small ones: v decays, v_max stays at its first value.
  std::vector<double> ref = {1.0};
  Tensor p = param(ref), q = param(ref);
  Adam ams({p}, {.lr = 0.1, .amsgrad = true});
  Adam plain({q}, {.lr = 0.1});
  AdamReference reference{{.lr = 0.1, .amsgrad = true}};
  for (double g : {1.0, 0.01, 0.01}) {
    set_grad(p, {g});
    set_grad(q, {g});
    ams.step();
    plain.step();
    reference.step(ref, {g});
  }
  check_close(p, ref);
  check_close(ams.state_dict().tensor("state.0.max_exp_avg_sq"), {0.001});  // (1 - 0.999) * 1^2
  CHECK(values(p)[0] != Approx(values(q)[0]).epsilon(1e-6));
}

TEST_CASE("Adam's weight decay goes through the moments, AdamW's does not; groups differ", "[optim]") {
  std::vector<double> ra = {2, -1}, rb = {0.5, 4};
  Tensor a = param(ra), b = param(rb);
  AdamW opt({ParamGroup({a}), ParamGroup({b}, {{"lr", 0.001}, {"weight_decay", 0}})}, {.lr = 0.1, .weight_decay = 0.2});
  AdamReference ref_a{{.lr = 0.1, .weight_decay = 0.2}, true}, ref_b{{.lr = 0.001}, true};
  step_two_groups(opt, a, ra, ref_a, b, rb, ref_b);
  // With a zero gradient, AdamW only shrinks: p = 2 * (1 - 0.1 * 0.2) = 1.96; Adam's L2 term acts through the
  // moments instead (first step ~ lr * sign(wd * p) = 0.1).
  Tensor w = param({2}), l = param({2});
  AdamW decoupled({w}, {.lr = 0.1, .weight_decay = 0.2});
  Adam coupled({l}, {.lr = 0.1, .weight_decay = 0.2});
  set_grad(w, {0});
  set_grad(l, {0});
  decoupled.step();
  coupled.step();
  check_close(w, {1.96});
  check_close(l, {2 - 0.1 * 0.4 / (0.4 + 1e-8)});
}

TEST_CASE("Adam in float32 follows the reference", "[optim]") {
  std::vector<double> r = {0.25, -0.75, 1.5};
  Tensor f = from_vector(std::vector<float>{0.25f, -0.75f, 1.5f}).requires_grad_();
  Adam opt({f}, {.lr = 0.01, .weight_decay = 0.01, .amsgrad = true});
  AdamReference reference{{.lr = 0.01, .weight_decay = 0.01, .amsgrad = true}};
  for (int s = 0; s < 5; ++s) {
    const auto g = test_grad(r, s);
    f.set_grad(from_vector(std::vector<float>(g.begin(), g.end())));
    opt.step();
    reference.step(r, g);
  }
  CHECK(opt.state_dict().tensor("state.0.exp_avg").dtype() == kF32);
  check_close(f, r, 1e-5);
}
