#pragma once
// Helpers for the optimizer tests: small parameters with chosen gradients, and a tiny regression problem to train.
#include <vector>

#include <ds/ds.h>
#include <ds/optim/optim.h>

namespace optim_test {

// A float64 leaf that requires grad (float64 so that the expected values, computed in double, match to 1e-12).
inline ds::Tensor param(const std::vector<double>& values) {
  return ds::from_vector(values).requires_grad_();
}
inline void set_grad(ds::Tensor& p, const std::vector<double>& g) { p.set_grad(ds::from_vector(g)); }
inline std::vector<double> values(const ds::Tensor& t) { return t.tolist<double>(); }

// A copy of a state dict whose tensors are cloned: what a checkpoint written and read back holds.
inline ds::StateDict deep_copy(const ds::StateDict& sd) {
  ds::StateDict out;
  for (const auto& [name, v] : sd) {
    if (const ds::Tensor* t = std::get_if<ds::Tensor>(&v)) out.set(name, t->clone());
    else out.set(name, v);
  }
  return out;
}

// Linear regression y = x W^T + b on fixed data (float32): W (3, 4), b (3).
struct Regression {
  ds::Tensor w, b, x, y;
  explicit Regression(uint64_t seed = 7) {
    ds::Generator gen(seed);
    w = ds::randn({3, 4}, {}, &gen).requires_grad_();
    b = ds::zeros({3}).requires_grad_();
    x = ds::randn({16, 4}, {}, &gen);
    y = ds::randn({16, 3}, {}, &gen);
  }
  std::vector<ds::Tensor> params() const { return {w, b}; }
  // Forward and backward of the mean squared error on the micro-batch rows [begin, end) (all rows by default).
  double backward(int64_t begin = 0, int64_t end = 16) const {
    ds::Tensor xs = x.narrow(0, begin, end - begin), ys = y.narrow(0, begin, end - begin);
    ds::Tensor loss = ds::mse_loss(ds::linear(xs, w, b), ys);
    loss.backward();
    return loss.item<double>();
  }
};

}  // namespace optim_test

namespace optim_test {

// Checks a tensor against expected values to a relative tolerance (float64 parameters: 1e-12).
inline void check_close(const ds::Tensor& t, const std::vector<double>& expected, double rel = 1e-12) {
  const std::vector<double> got = values(t);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", expected " << expected[i]);
    CHECK(got[i] == Approx(expected[i]).epsilon(rel).margin(1e-300));
  }
}

// The gradient fed to the reference and to the optimizer at step `step`: depends on the parameter (so that weight
// decay and momentum interact) and changes sign across steps.
inline std::vector<double> test_grad(const std::vector<double>& p, int step) {
  std::vector<double> g(p.size());
  for (size_t i = 0; i < p.size(); ++i) g[i] = 0.3 * p[i] + (step % 2 ? -0.5 : 0.7) * static_cast<double>(i + 1);
  return g;
}

// Steps `opt`, which holds parameter a in one group and b in another, alongside the two textbook references for
// `steps` steps with test_grad's gradients, comparing both parameters after every step.
template <typename Ref>
void step_two_groups(ds::optim::Optimizer& opt, ds::Tensor& a, std::vector<double>& ra, Ref& ref_a, ds::Tensor& b,
                     std::vector<double>& rb, Ref& ref_b, int steps = 3) {
  for (int s = 0; s < steps; ++s) {
    const auto ga = test_grad(ra, s), gb = test_grad(rb, s);
    set_grad(a, ga);
    set_grad(b, gb);
    opt.step();
    ref_a.step(ra, ga);
    ref_b.step(rb, gb);
    check_close(a, ra);
    check_close(b, rb);
  }
}

}  // namespace optim_test
