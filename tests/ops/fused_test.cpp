// The fused transformer kernels (layer_norm, gelu, softmax_cross_entropy) against their definitions in plain ds ops,
// in float64 on random shapes: values, first derivatives (the fused backward kernels) and second derivatives (the
// vjps' recorded formulas).
#include <cmath>

#include <catch2/catch.hpp>

#include <ds/ds.h>

using namespace ds;

namespace {
double max_abs_diff(const Tensor& a, const Tensor& b) { return amax(abs(a.to(kF64) - b.to(kF64))).item<double>(); }

// The old composite definition of cross_entropy over class indices: log_softmax, pick, smoothing, mean over kept.
Tensor cross_entropy_math(const Tensor& logits, const Tensor& target, int64_t ignore, double eps) {
  const Tensor lp = log_softmax(logits, 1);
  const Tensor keep = target != ignore;
  const Tensor safe = where(keep, target, zeros({}, {.dtype = kI64}));
  const Tensor nll = -gather(lp, 1, safe.unsqueeze(1)).squeeze(1);
  const Tensor loss = nll * (1 - eps) - sum(lp, {1}) * (eps / static_cast<double>(logits.size(1)));
  return sum(where(keep, loss, zeros({}, {.dtype = kF64}))) / sum(keep.to(kF64));
}
}  // namespace

TEST_CASE("fused layer_norm matches its definition, to second derivatives", "[ops][fused]") {
  Generator gen(1);
  for (const Shape& s : {Shape{3, 7}, Shape{2, 5, 384}, Shape{64, 33}}) {
    Tensor x = randn(s, {.dtype = kF64}, &gen).requires_grad_(true);
    Tensor w = randn({s.back()}, {.dtype = kF64}, &gen).requires_grad_(true);
    Tensor b = randn({s.back()}, {.dtype = kF64}, &gen).requires_grad_(true);
    const Tensor y = layer_norm(x, {s.back()}, w, b), ref = detail::layer_norm_math(x, {s.back()}, w, b);
    CHECK(max_abs_diff(y, ref) < 1e-12);
    const Tensor g = randn(s, {.dtype = kF64}, &gen);
    const auto d1 = grad({sum(y * g)}, {x, w, b}, {}, true, true);
    const auto r1 = grad({sum(ref * g)}, {x, w, b}, {}, true, true);
    for (size_t i = 0; i < 3; ++i) CHECK(max_abs_diff(d1[i], r1[i]) < 1e-10);
    // second order: d/dx of sum(dx^2)
    const auto d2 = grad({sum(square(d1[0]))}, {x, w});
    const auto r2 = grad({sum(square(r1[0]))}, {x, w});
    for (size_t i = 0; i < 2; ++i) CHECK(max_abs_diff(d2[i], r2[i]) < 1e-9);
  }
}

TEST_CASE("fused gelu matches its definitions, to second derivatives", "[ops][fused]") {
  Tensor x = linspace(-6, 6, 1001, {.dtype = kF64}).requires_grad_(true);
  const Tensor exact = x * 0.5 * (1 + erf(x / std::sqrt(2.0)));
  const Tensor approx = x * 0.5 * (1 + tanh((x + pow(x, 3) * 0.044715) * std::sqrt(2 / M_PI)));
  for (auto [y, ref] : {std::pair{gelu(x), exact}, std::pair{gelu_tanh(x), approx}}) {
    CHECK(max_abs_diff(y, ref) < 1e-14);
    const auto d = grad({sum(y)}, {x}, {}, true, true), r = grad({sum(ref)}, {x}, {}, true, true);
    CHECK(max_abs_diff(d[0], r[0]) < 1e-13);
    CHECK(max_abs_diff(grad({sum(d[0])}, {x})[0], grad({sum(r[0])}, {x})[0]) < 1e-12);
  }
}

TEST_CASE("fused cross_entropy matches log_softmax + pick, with ignore_index and smoothing", "[ops][fused]") {
  Generator gen(2);
  for (double eps : {0.0, 0.1}) {
    Tensor logits = (randn({50, 17}, {.dtype = kF64}, &gen) * 4).requires_grad_(true);
    Tensor target = randint(0, 17, {50}, {.dtype = kI64}, &gen);
    target.narrow(0, 10, 5).fill_(-100);
    const Tensor y = cross_entropy(logits, target, Reduction::Mean, -100, eps);
    const Tensor ref = cross_entropy_math(logits, target, -100, eps);
    CHECK(max_abs_diff(y, ref) < 1e-12);
    const auto d = grad({y}, {logits}, {}, true, true), r = grad({ref}, {logits}, {}, true, true);
    CHECK(max_abs_diff(d[0], r[0]) < 1e-12);
    CHECK(max_abs_diff(d[0].narrow(0, 10, 5), zeros({5, 17}, {.dtype = kF64})) == 0);
    const Tensor w = randn({50, 17}, {.dtype = kF64}, &gen);
    CHECK(max_abs_diff(grad({sum(d[0] * w)}, {logits})[0], grad({sum(r[0] * w)}, {logits})[0]) < 1e-11);
  }
  // (N, C, d) logits: the class dim moves last inside; same as the 2-d form on the permuted rows.
  Tensor l3 = randn({4, 5, 3}, {.dtype = kF64}, &gen);
  Tensor t3 = randint(0, 5, {4, 3}, {.dtype = kI64}, &gen);
  const Tensor flat = cross_entropy(l3.permute({0, 2, 1}).reshape({-1, 5}), t3.reshape({-1}), Reduction::None);
  CHECK(max_abs_diff(cross_entropy(l3, t3, Reduction::None), flat.view({4, 3})) < 1e-15);
}
