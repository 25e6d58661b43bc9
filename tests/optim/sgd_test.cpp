// SGD against hand-computed steps and a plain double-precision transcription of torch.optim.SGD's algorithm.
#include <catch2/catch.hpp>

#include "../test_util.h"
#include "optim_test_util.h"

using namespace ds;
using namespace ds::optim;
using namespace optim_test;

namespace {

// torch.optim.SGD's documented algorithm, one parameter tensor, in double.
struct SGDReference {
  SGDOptions o;
  std::vector<double> buf;  // empty until the first step
  void step(std::vector<double>& p, const std::vector<double>& grad) {
    const bool first = buf.empty();
    if (first) buf.assign(p.size(), 0);
    for (size_t i = 0; i < p.size(); ++i) {
      double d = (o.maximize ? -grad[i] : grad[i]) + o.weight_decay * p[i];
      if (o.momentum != 0) {
        buf[i] = first ? d : o.momentum * buf[i] + (1 - o.dampening) * d;
        d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
      }
      p[i] -= o.lr * d;
    }
  }
};

}  // namespace

TEST_CASE("SGD with momentum: three steps by hand", "[optim]") {
  Tensor p = param({1, -2});
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
  // g = [0.5, 1] each step.
  // 1: buf = g = [0.5, 1];                          p = [1 - 0.05, -2 - 0.1]        = [0.95, -2.1]
  // 2: buf = 0.9 [0.5, 1] + g = [0.95, 1.9];        p = [0.95 - 0.095, -2.1 - 0.19] = [0.855, -2.29]
  // 3: buf = 0.9 [0.95, 1.9] + g = [1.355, 2.71];   p = [0.855 - 0.1355, -2.29 - 0.271] = [0.7195, -2.561]
  const std::vector<std::vector<double>> expected = {{0.95, -2.1}, {0.855, -2.29}, {0.7195, -2.561}};
  for (const auto& e : expected) {
    set_grad(p, {0.5, 1});
    opt.step();
    check_close(p, e);
  }
  check_close(opt.state_dict().tensor("state.0.momentum_buffer"), {1.355, 2.71});
  CHECK(values(p.grad()) == std::vector<double>{0.5, 1});  // the gradient itself is left alone
}

TEST_CASE("SGD matches the reference algorithm for every option", "[optim]") {
  const std::vector<SGDOptions> configs = {
      {.lr = 0.1},
      {.lr = 0.1, .weight_decay = 0.05},
      {.lr = 0.05, .momentum = 0.9},
      {.lr = 0.05, .momentum = 0.9, .dampening = 0.25, .weight_decay = 0.01},
      {.lr = 0.05, .momentum = 0.8, .weight_decay = 0.02, .nesterov = true},
      {.lr = 0.05, .momentum = 0.5, .weight_decay = 0.1, .maximize = true},
      {.lr = 0.02, .momentum = 0.9, .nesterov = true, .maximize = true},
  };
  for (size_t c = 0; c < configs.size(); ++c) {
    INFO("config " << c);
    std::vector<double> ref = {0.5, -1.5, 2.0};
    Tensor p = param(ref);
    SGD opt({p}, configs[c]);
    SGDReference reference{configs[c]};
    for (int s = 0; s < 3; ++s) {
      const std::vector<double> g = test_grad(ref, s);
      set_grad(p, g);
      opt.step();
      reference.step(ref, g);
      check_close(p, ref);
      CHECK(values(p.grad()) == g);
    }
  }
}

TEST_CASE("SGD groups with their own lr and weight decay; float32 follows the reference", "[optim]") {
  std::vector<double> ra = {1, 2}, rb = {-3, 0.5, 4};
  Tensor a = param(ra), b = param(rb);
  SGD opt({ParamGroup({a}), ParamGroup({b}, {{"lr", 0.01}, {"weight_decay", 0.1}, {"nesterov", 0}})},
          {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  SGDReference ref_a{{.lr = 0.1, .momentum = 0.9, .nesterov = true}};
  SGDReference ref_b{{.lr = 0.01, .momentum = 0.9, .weight_decay = 0.1}};
  step_two_groups(opt, a, ra, ref_a, b, rb, ref_b);

  std::vector<double> r = {0.25, -0.75};
  Tensor f = from_vector(std::vector<float>{0.25f, -0.75f}).requires_grad_();
  SGD opt32({f}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  SGDReference ref32{{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01}};
  for (int s = 0; s < 3; ++s) {
    const auto g = test_grad(r, s);
    f.set_grad(from_vector(std::vector<float>(g.begin(), g.end())));
    opt32.step();
    ref32.step(r, g);
  }
  CHECK(f.dtype() == kF32);
  CHECK(opt32.state_dict().tensor("state.0.momentum_buffer").dtype() == kF32);
  check_close(f, r, 1e-5);
}
