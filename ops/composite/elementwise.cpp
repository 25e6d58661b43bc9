// Elementwise composites: square, gelu_tanh (over the gelu primitive), silu, softplus, masked_fill, tril, triu.
#include <cmath>
#include <numbers>

#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/shape_ops.h>

#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {

Tensor square(const Tensor& x) { return pow(x, 2); }

// x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2))
// GPT-2's approximation of gelu (ops/defs/gelu.cpp): x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))).
Tensor gelu_tanh(const Tensor& x) { return detail::gelu(x, true); }

Tensor silu(const Tensor& x) { return x * sigmoid(x); }

// Above the threshold (in beta * x) the result is x itself, which avoids exp overflow (as PyTorch does).
Tensor softplus(const Tensor& x, double beta, double threshold) {
  const Tensor bx = x * beta;
  return where(bx > threshold, x, log1p(exp(minimum(bx, threshold))) / beta);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  DS_CHECK(mask.dtype() == kBool, "masked_fill", "the mask must be a bool tensor, got {} (shape {})",
           dtype_name(mask.dtype()), shape_str(mask.sizes()));
  const Tensor out = where(mask, full({}, value, {.dtype = x.dtype(), .device = x.device()}), x);
  DS_CHECK(out.sizes() == x.sizes(), "masked_fill", "mask {} does not broadcast to the input's shape {}",
           shape_str(mask.sizes()), shape_str(x.sizes()));
  return out;
}

namespace {
// Positions (i, j) of the last two dims with j - i >= diagonal (upper) or <= diagonal (lower).
Tensor triangle_mask(const Tensor& x, int64_t diagonal, bool upper, std::string_view op) {
  DS_CHECK(x.dim() >= 2, op, "expects at least 2 dimensions, got shape {}", shape_str(x.sizes()));
  const int64_t n = x.size(-2), m = x.size(-1);
  const TensorOptions o{.dtype = kI64, .device = x.device()};
  const Tensor rel = arange(0, m, 1, o).unsqueeze(0) - arange(0, n, 1, o).unsqueeze(1);
  return upper ? rel >= diagonal : rel <= diagonal;
}
}  // namespace

Tensor tril(const Tensor& x, int64_t diagonal) {
  return where(triangle_mask(x, diagonal, false, "tril"), x, zeros({}, {.dtype = x.dtype(), .device = x.device()}));
}
Tensor triu(const Tensor& x, int64_t diagonal) {
  return where(triangle_mask(x, diagonal, true, "triu"), x, zeros({}, {.dtype = x.dtype(), .device = x.device()}));
}

namespace {
using samples::make1;
using samples::unary;
using samples::uniform;
}  // namespace

// clang-format off
DS_COMPOSITE_ROW(square) OpDef{.name = "square", .kind = OpKind::Composite,
    .cpu_dtypes = kFloatTypes | kIntTypes, .test = {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return square(x); }); },
    .ref1 = [](double x) { return x * x; }, .gradgrad = true}};
DS_COMPOSITE_ROW(gelu_tanh) OpDef{.name = "gelu_tanh", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return gelu_tanh(x); }); },
    .ref1 = [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x))); },
    .gradgrad = true}};
DS_COMPOSITE_ROW(silu) OpDef{.name = "silu", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return silu(x); }); },
    .ref1 = [](double x) { return x / (1 + std::exp(-x)); }, .gradgrad = true}};
DS_COMPOSITE_ROW(softplus) OpDef{.name = "softplus", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = unary(dt, -3, 3, [](const Tensor& x) { return softplus(x); });
      v.push_back(make1("beta 2, above the threshold", {tensor({-1.0, 0.5, 30.0}).to(dt)},
                        [](const TensorList& x) { return softplus(x[0], 2.0, 20.0); }));
      v.back().expected = {{std::log1p(std::exp(-2.0)) / 2, std::log1p(std::exp(1.0)) / 2, 30.0}};
      v.back().use_reference = false;
      return v;
    },
    .ref1 = [](double x) { return std::log1p(std::exp(x)); }}};
DS_COMPOSITE_ROW(masked_fill) OpDef{.name = "masked_fill", .kind = OpKind::Composite,
    .cpu_dtypes = kFloatTypes | kIntTypes, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
          make1("broadcast mask", {uniform({3, 4}, dt, -1, 1, 1), uniform({4}, kF64, -1, 1, 2) > 0},
                [](const TensorList& x) { return masked_fill(x[0], x[1], -2.5); }, 1),
          make1("hand-computed", {tensor({1.0, 2.0, 3.0}).to(dt), tensor({false, true, false})},
                [](const TensorList& x) { return masked_fill(x[0], x[1], 9); }, 1)};
      v.back().expected = {{1, 9, 3}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{
        samples::bad("float mask", [] { masked_fill(ones({2}), ones({2}), 0); }, "must be a bool tensor"),
        samples::bad("mask grows the input", [] { masked_fill(ones({2}), ones({3, 2}, {.dtype = kBool}), 0); },
                     "does not broadcast")}; },
    .gradgrad = true}};
DS_COMPOSITE_ROW(tril) OpDef{.name = "tril", .kind = OpKind::Composite, .cpu_dtypes = kFloatTypes | kIntTypes, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
          make1("batched, diagonal -1", {uniform({2, 3, 4}, dt, -1, 1, 1)}, [](const TensorList& x) { return tril(x[0], -1); }),
          make1("hand-computed", {ones({2, 3}, {.dtype = dt})}, [](const TensorList& x) { return tril(x[0]); })};
      v.back().expected = {{1, 0, 0, 1, 1, 0}};
      return v;
    }}};
DS_COMPOSITE_ROW(triu) OpDef{.name = "triu", .kind = OpKind::Composite, .cpu_dtypes = kFloatTypes | kIntTypes, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
          make1("diagonal 1, transposed", {samples::transposed({3, 3}, dt, -1, 1, 1)}, [](const TensorList& x) { return triu(x[0], 1); }),
          make1("hand-computed", {ones({2, 3}, {.dtype = dt})}, [](const TensorList& x) { return triu(x[0]); })};
      v.back().expected = {{1, 1, 1, 0, 1, 1}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{samples::bad("1-d", [] { triu(ones({3})); }, "at least 2 dimensions")}; }}};
// clang-format on

}  // namespace ds
