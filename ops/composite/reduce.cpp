// Reduction composites: mean, var, std, logsumexp, norm, argmax, argmin, and max/min of a whole tensor.
#include <cmath>

#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

// Number of elements reduced over dims (all when empty).
int64_t count_over(const Tensor& x, IntArrayRef dims, std::string_view op) {
  int64_t n = 1;
  for (int64_t d : rules::normalize_dims(dims, x.dim(), op)) n *= x.sizes()[d];
  return n;
}

}  // namespace

Tensor mean(const Tensor& x, IntArrayRef dims, bool keepdim) {
  DS_CHECK(is_floating(x.dtype()), "mean", "needs a floating tensor, got {} (use .to(ds::kF32))",
           dtype_name(x.dtype()));
  return sum(x, dims, keepdim) / static_cast<double>(count_over(x, dims, "mean"));
}

// Two passes (subtract the mean first) for accuracy.
Tensor var(const Tensor& x, IntArrayRef dims, double correction, bool keepdim) {
  DS_CHECK(is_floating(x.dtype()), "var", "needs a floating tensor, got {}", dtype_name(x.dtype()));
  const double n = static_cast<double>(count_over(x, dims, "var"));
  const Tensor centered = x - mean(x, dims, true);
  return sum(square(centered), dims, keepdim) / std::max(0.0, n - correction);
}

Tensor std(const Tensor& x, IntArrayRef dims, double correction, bool keepdim) {
  return sqrt(var(x, dims, correction, keepdim));
}

// max + log(sum(exp(x - max))); the max is detached (its gradient cancels) and taken as 0 where it is infinite.
Tensor logsumexp(const Tensor& x, IntArrayRef dims, bool keepdim) {
  Tensor m = amax(x, dims, true).detach();
  m = where(abs(m) == INFINITY, zeros_like(m), m);
  Tensor out = log(sum(exp(x - m), dims, true)) + m;
  return keepdim ? out : squeeze(out, rules::normalize_dims(dims, x.dim(), "logsumexp"));
}

Tensor norm(const Tensor& x, double p, IntArrayRef dims, bool keepdim) {
  DS_CHECK(is_floating(x.dtype()), "norm", "needs a floating tensor, got {}", dtype_name(x.dtype()));
  if (std::isinf(p)) return p > 0 ? amax(abs(x), dims, keepdim) : amin(abs(x), dims, keepdim);
  if (p == 2) return sqrt(sum(square(x), dims, keepdim));
  if (p == 1) return sum(abs(x), dims, keepdim);
  DS_CHECK(p > 0, "norm", "p must be positive or infinite, got {}", p);
  return pow(sum(pow(abs(x), p), dims, keepdim), 1.0 / p);
}

Tensor max(const Tensor& x) { return amax(x); }
Tensor min(const Tensor& x) { return amin(x); }

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  if (!dim) return max(x.reshape({-1}), 0).indices;
  return max(x, *dim, keepdim).indices;
}
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  if (!dim) return min(x.reshape({-1}), 0).indices;
  return min(x, *dim, keepdim).indices;
}

namespace {
using samples::make1;
using samples::uniform;

std::vector<OpCase> dims_cases(DType dt, double lo, double hi, std::function<Tensor(const Tensor&, IntArrayRef, bool)> f) {
  return {make1("all", {uniform({3, 4}, dt, lo, hi, 1)}, [f](const TensorList& x) { return f(x[0], {}, false); }),
          make1("dim 1 keepdim", {uniform({3, 4}, dt, lo, hi, 2)}, [f](const TensorList& x) { return f(x[0], {1}, true); }),
          make1("dims (0, 2), transposed", {uniform({4, 3, 2}, dt, lo, hi, 3).transpose(0, 2)},
                [f](const TensorList& x) { return f(x[0], {0, 2}, false); })};
}
}  // namespace

// clang-format off
DS_COMPOSITE_ROW(mean) OpDef{.name = "mean", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = dims_cases(dt, -2, 2, [](const Tensor& x, IntArrayRef d, bool k) { return mean(x, d, k); });
      v.push_back(make1("hand-computed", {tensor({{1.0, 2.0}, {3.0, 6.0}}).to(dt)}, [](const TensorList& x) { return mean(x[0], {0}); }));
      v.back().expected = {{2, 4}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{samples::bad("integers", [] { mean(ones({2}, {.dtype = kI64})); }, "needs a floating tensor")}; },
    .gradgrad = true}};
DS_COMPOSITE_ROW(var) OpDef{.name = "var", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = dims_cases(dt, -2, 2, [](const Tensor& x, IntArrayRef d, bool k) { return var(x, d, 1, k); });
      v.push_back(make1("hand-computed, correction 0", {tensor({1.0, 2.0, 3.0, 4.0}).to(dt)}, [](const TensorList& x) { return var(x[0], {}, 0); }));
      v.back().expected = {{1.25}};
      return v;
    },
    .gradgrad = true}};
DS_COMPOSITE_ROW(std) OpDef{.name = "std", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = dims_cases(dt, -2, 2, [](const Tensor& x, IntArrayRef d, bool k) { return std(x, d, 1, k); });
      v.push_back(make1("hand-computed", {tensor({2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0}).to(dt)}, [](const TensorList& x) { return std(x[0], {}, 0); }));
      v.back().expected = {{2}};
      return v;
    }}};
DS_COMPOSITE_ROW(logsumexp) OpDef{.name = "logsumexp", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = dims_cases(dt, -3, 3, [](const Tensor& x, IntArrayRef d, bool k) { return logsumexp(x, d, k); });
      v.push_back(make1("large values stay finite", {tensor({1000.0, 1000.0}).to(dt)}, [](const TensorList& x) { return logsumexp(x[0], {0}); }));
      v.back().expected = {{1000 + std::log(2.0)}};
      return v;
    },
    .gradgrad = true}};
DS_COMPOSITE_ROW(norm) OpDef{.name = "norm", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = dims_cases(dt, 0.5, 2, [](const Tensor& x, IntArrayRef d, bool k) { return norm(x, 2, d, k); });
      v.push_back(make1("p = 3", {uniform({5}, dt, 0.5, 2, 7)}, [](const TensorList& x) { return norm(x[0], 3); }));
      v.push_back(make1("p = 1 and inf", {uniform({2, 3}, dt, 0.5, 2, 8)}, [](const TensorList& x) { return norm(x[0], 1, {1}) + norm(x[0], INFINITY, {1}); }));
      v.push_back(make1("hand-computed", {tensor({3.0, -4.0}).to(dt)}, [](const TensorList& x) { return norm(x[0]); }));
      v.back().expected = {{5}};
      return v;
    }}};
DS_COMPOSITE_ROW(argmax) OpDef{.name = "argmax", .kind = OpKind::Composite,
    .cpu_dtypes = kFloatTypes | kIntTypes, .differentiable_composite = false, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{make1("flattened", {tensor({{1.0, 5.0}, {7.0, 2.0}}).to(dt)}, [](const TensorList& x) { return argmax(x[0]); }),
                                   make1("dim 0", {tensor({{1.0, 5.0}, {7.0, 2.0}}).to(dt)}, [](const TensorList& x) { return argmax(x[0], 0); })};
      v[0].expected = {{2}};
      v[1].expected = {{1, 0}};
      return v;
    }}};
DS_COMPOSITE_ROW(argmin) OpDef{.name = "argmin", .kind = OpKind::Composite,
    .cpu_dtypes = kFloatTypes | kIntTypes, .differentiable_composite = false, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{make1("dim 1", {tensor({{1.0, 5.0}, {7.0, 2.0}}).to(dt)}, [](const TensorList& x) { return argmin(x[0], 1); })};
      v[0].expected = {{0, 1}};
      return v;
    }}};
DS_COMPOSITE_ROW(max) OpDef{.name = "max", .kind = OpKind::Composite, .cpu_dtypes = kFloatTypes | kIntTypes, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{make1("whole tensor", {uniform({3, 4}, dt, -2, 2, 1)}, [](const TensorList& x) { return max(x[0]); }),
                                   make1("hand-computed", {tensor({1.0, 9.0, -3.0}).to(dt)}, [](const TensorList& x) { return max(x[0]); })};
      v.back().expected = {{9}};
      return v;
    }}};
DS_COMPOSITE_ROW(min) OpDef{.name = "min", .kind = OpKind::Composite, .cpu_dtypes = kFloatTypes | kIntTypes, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{make1("whole tensor", {uniform({3, 4}, dt, -2, 2, 1)}, [](const TensorList& x) { return min(x[0]); }),
                                   make1("hand-computed", {tensor({1.0, 9.0, -3.0}).to(dt)}, [](const TensorList& x) { return min(x[0]); })};
      v.back().expected = {{-3}};
      return v;
    }}};
// clang-format on

}  // namespace ds
