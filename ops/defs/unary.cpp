// Rows and front functions of the unary elementwise primitives.
#include <cmath>
#include <numbers>

#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>

#include "../cpu/kernels.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

using samples::unary;

// pow_scalar attrs: exponent (double or int). Integer tensors with an integer exponent stay integers.
void pow_scalar_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  const DType x = c.in[0].dtype();
  DS_CHECK(x != kBool, c.name, "is not defined for bool tensors");
  const DType t = std::holds_alternative<double>(c.attrs[0]) ? rules::to_floating(x) : x;
  if (is_integral(t)) DS_CHECK(c.attrs.i(0) >= 0, c.name, "integers cannot be raised to a negative power ({})",
                               c.attrs.i(0));
  rules::unary(c, r, t);
  r.casts.assign(1, t);
}

// clamp attrs: min, max (each double or None)
void clamp_rule(const OpCall& c, RuleResult& r) {
  DS_CHECK(!c.attrs.is_none(0) || !c.attrs.is_none(1), c.name, "at least one of min and max must be given");
  rules::unary_same_rule(c, r);
  // An integer tensor clamped to a fractional bound computes in float, as PyTorch's type promotion does.
  bool fractional = false;
  for (size_t k = 0; k < 2; ++k) fractional |= !c.attrs.is_none(k) && std::floor(c.attrs.f(k)) != c.attrs.f(k);
  if (is_integral(c.in[0].dtype()) && fractional) {
    r.outs[0].dtype = kF32;
    r.casts.assign(1, kF32);
  }
}

void logical_not_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  rules::unary(c, r, kBool);
  r.casts.assign(1, kBool);
}

double pow_exponent(const Attrs& a) { return std::holds_alternative<double>(a[0]) ? a.f(0) : static_cast<double>(a.i(0)); }

TensorList neg_vjp(const VjpCtx& c) { return {neg(c.grad[0])}; }
TensorList abs_vjp(const VjpCtx& c) { return {c.grad[0] * sign(c.in[0])}; }
TensorList exp_vjp(const VjpCtx& c) { return {c.grad[0] * c.out[0]}; }
TensorList log_vjp(const VjpCtx& c) { return {c.grad[0] / c.in[0]}; }
TensorList log1p_vjp(const VjpCtx& c) { return {c.grad[0] / (c.in[0] + 1)}; }
TensorList expm1_vjp(const VjpCtx& c) { return {c.grad[0] * (c.out[0] + 1)}; }
TensorList sqrt_vjp(const VjpCtx& c) { return {c.grad[0] / (c.out[0] * 2)}; }
TensorList rsqrt_vjp(const VjpCtx& c) { return {c.grad[0] * pow(c.out[0], 3) * -0.5}; }
TensorList sin_vjp(const VjpCtx& c) { return {c.grad[0] * cos(c.in[0])}; }
TensorList cos_vjp(const VjpCtx& c) { return {-(c.grad[0] * sin(c.in[0]))}; }
TensorList tanh_vjp(const VjpCtx& c) { return {c.grad[0] * (1 - square(c.out[0]))}; }
TensorList sigmoid_vjp(const VjpCtx& c) { return {c.grad[0] * c.out[0] * (1 - c.out[0])}; }
TensorList relu_vjp(const VjpCtx& c) { return {where(c.out[0] > 0, c.grad[0], 0)}; }
TensorList erf_vjp(const VjpCtx& c) {
  return {c.grad[0] * exp(-square(c.in[0])) * (2.0 / std::sqrt(std::numbers::pi))};
}
// floor, ceil, round and sign are piecewise constant: their gradient is zero wherever it exists (as in PyTorch).
TensorList zero_vjp(const VjpCtx& c) { return {zeros_like(c.grad[0])}; }
TensorList reciprocal_vjp(const VjpCtx& c) { return {-(c.grad[0] * square(c.out[0]))}; }
TensorList pow_scalar_vjp(const VjpCtx& c) {
  const double e = pow_exponent(c.attrs);
  if (e == 0) return {zeros_like(c.grad[0])};
  return {c.grad[0] * pow(c.in[0], e - 1) * e};
}
TensorList clamp_vjp(const VjpCtx& c) {
  Tensor keep;
  const Tensor& x = c.in[0];
  if (!c.attrs.is_none(0)) keep = x >= c.attrs.f(0);
  if (!c.attrs.is_none(1)) keep = keep.defined() ? (keep & (x <= c.attrs.f(1))) : (x <= c.attrs.f(1));
  return {where(keep, c.grad[0], 0)};
}

constexpr DTypeSet kNumbers = kFloatTypes | kIntTypes;

OpDef unary_row(std::string_view name, RuleFn rule, KernelFn cpu, VjpFn vjp, uint32_t save_in, uint32_t save_out,
                TestFacts test) {
  return OpDef{.name = name, .rule = rule, .cpu = cpu, .vjp = vjp, .save_in = save_in, .save_out = save_out,
               .strided_out = true, .test = std::move(test)};
}

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(neg) unary_row("neg", rules::unary_same_rule, cpu::neg, neg_vjp, 0, 0, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return neg(x); }); },
    .ref1 = [](double x) { return -x; }, .cpu_dtypes = kNumbers, .gradgrad = true});
DS_PRIMITIVE_ROW(abs) unary_row("abs", rules::unary_same_rule, cpu::abs, abs_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return abs(x); }); },
    .ref1 = [](double x) { return std::fabs(x); }, .cpu_dtypes = kNumbers});
DS_PRIMITIVE_ROW(exp) unary_row("exp", rules::unary_float_rule, cpu::exp, exp_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return exp(x); }); },
    .ref1 = [](double x) { return std::exp(x); }, .gradgrad = true});
DS_PRIMITIVE_ROW(log) unary_row("log", rules::unary_float_rule, cpu::log, log_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, 0.5, 3, [](const Tensor& x) { return log(x); }); },
    .ref1 = [](double x) { return std::log(x); }, .gradgrad = true});
DS_PRIMITIVE_ROW(log1p) unary_row("log1p", rules::unary_float_rule, cpu::log1p, log1p_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, -0.5, 2, [](const Tensor& x) { return log1p(x); }); },
    .ref1 = [](double x) { return std::log1p(x); }});
DS_PRIMITIVE_ROW(expm1) unary_row("expm1", rules::unary_float_rule, cpu::expm1, expm1_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return expm1(x); }); },
    .ref1 = [](double x) { return std::expm1(x); }});
DS_PRIMITIVE_ROW(sqrt) unary_row("sqrt", rules::unary_float_rule, cpu::sqrt, sqrt_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, 0.5, 3, [](const Tensor& x) { return sqrt(x); }); },
    .ref1 = [](double x) { return std::sqrt(x); }, .gradgrad = true});
DS_PRIMITIVE_ROW(rsqrt) unary_row("rsqrt", rules::unary_float_rule, cpu::rsqrt, rsqrt_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, 0.5, 3, [](const Tensor& x) { return rsqrt(x); }); },
    .ref1 = [](double x) { return 1 / std::sqrt(x); }});
DS_PRIMITIVE_ROW(sin) unary_row("sin", rules::unary_float_rule, cpu::sin, sin_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return sin(x); }); },
    .ref1 = [](double x) { return std::sin(x); }, .gradgrad = true});
DS_PRIMITIVE_ROW(cos) unary_row("cos", rules::unary_float_rule, cpu::cos, cos_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return cos(x); }); },
    .ref1 = [](double x) { return std::cos(x); }});
DS_PRIMITIVE_ROW(tanh) unary_row("tanh", rules::unary_float_rule, cpu::tanh, tanh_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return tanh(x); }); },
    .ref1 = [](double x) { return std::tanh(x); }, .gradgrad = true});
DS_PRIMITIVE_ROW(sigmoid) unary_row("sigmoid", rules::unary_float_rule, cpu::sigmoid, sigmoid_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, -4, 4, [](const Tensor& x) { return sigmoid(x); }); },
    .ref1 = [](double x) { return 1 / (1 + std::exp(-x)); }, .gradgrad = true});
DS_PRIMITIVE_ROW(relu) unary_row("relu", rules::unary_same_rule, cpu::relu, relu_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return relu(x); }); },
    .ref1 = [](double x) { return x > 0 ? x : 0.0; }, .cpu_dtypes = kNumbers});
DS_PRIMITIVE_ROW(erf) unary_row("erf", rules::unary_float_rule, cpu::erf, erf_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return erf(x); }); },
    .ref1 = [](double x) { return std::erf(x); }});
DS_PRIMITIVE_ROW(floor) unary_row("floor", rules::unary_same_rule, cpu::floor, zero_vjp, 0, 0, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return floor(x); }); },
    .ref1 = [](double x) { return std::floor(x); }, .cpu_dtypes = kNumbers});
DS_PRIMITIVE_ROW(ceil) unary_row("ceil", rules::unary_same_rule, cpu::ceil, zero_vjp, 0, 0, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return ceil(x); }); },
    .ref1 = [](double x) { return std::ceil(x); }, .cpu_dtypes = kNumbers});
DS_PRIMITIVE_ROW(round) unary_row("round", rules::unary_same_rule, cpu::round, zero_vjp, 0, 0, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return round(x); }); },
    .ref1 = [](double x) { return std::nearbyint(x); }, .cpu_dtypes = kNumbers});
DS_PRIMITIVE_ROW(sign) unary_row("sign", rules::unary_same_rule, cpu::sign, zero_vjp, 0, 0, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return sign(x); }); },
    .ref1 = [](double x) { return static_cast<double>((x > 0) - (x < 0)); }, .cpu_dtypes = kNumbers});
DS_PRIMITIVE_ROW(reciprocal) unary_row("reciprocal", rules::unary_float_rule, cpu::reciprocal, reciprocal_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, 0.5, 2, [](const Tensor& x) { return reciprocal(x); }); },
    .ref1 = [](double x) { return 1 / x; }, .gradgrad = true});
DS_PRIMITIVE_ROW(pow_scalar) OpDef{.name = "pow_scalar", .attr_names = {"exponent"}, .rule = pow_scalar_rule,
    .cpu = cpu::pow_scalar, .vjp = pow_scalar_vjp, .save_in = 1, .strided_out = true, .test = {
    .cases = [](DType dt) {
      auto v = unary(dt, 0.5, 2, [](const Tensor& x) { return pow(x, 2.5); });
      for (auto& k : unary(dt, -2, 2, [](const Tensor& x) { return pow(x, 3); })) v.push_back(std::move(k));
      return v;
    },
    .cpu_dtypes = kNumbers, .gradgrad = true}};
DS_PRIMITIVE_ROW(clamp) OpDef{.name = "clamp", .attr_names = {"min", "max"}, .rule = clamp_rule, .cpu = cpu::clamp,
    .vjp = clamp_vjp, .save_in = 1, .strided_out = true, .test = {
    .cases = [](DType dt) {
      auto v = unary(dt, -2, 2, [](const Tensor& x) { return clamp(x, -0.5, 1); });
      v.push_back(samples::make1("min only", {samples::uniform({7}, dt, -2, 2, 7)},
                                 [](const TensorList& x) { return clamp(x[0], 0.25, std::nullopt); }));
      v.push_back(samples::make1("hand-computed", {tensor({-3.0, -0.5, 0.0, 2.0, 7.0}).to(dt)},
                                 [](const TensorList& x) { return clamp(x[0], -1, 3); }));
      v.back().expected = {{-1, -0.5, 0, 2, 3}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{samples::bad("no bounds", [] { clamp(ones({2}), {}, {}); },
                                                         "at least one of min and max")}; },
    .cpu_dtypes = kNumbers}};
DS_PRIMITIVE_ROW(logical_not) OpDef{.name = "logical_not", .rule = logical_not_rule, .cpu = cpu::logical_not,
    .strided_out = true, .test = {.cpu_dtypes = kAllTypes}};
// clang-format on

Tensor neg(const Tensor& x) { return call_op1(OpId::neg, {x}); }
Tensor abs(const Tensor& x) { return call_op1(OpId::abs, {x}); }
Tensor exp(const Tensor& x) { return call_op1(OpId::exp, {x}); }
Tensor log(const Tensor& x) { return call_op1(OpId::log, {x}); }
Tensor log1p(const Tensor& x) { return call_op1(OpId::log1p, {x}); }
Tensor expm1(const Tensor& x) { return call_op1(OpId::expm1, {x}); }
Tensor sqrt(const Tensor& x) { return call_op1(OpId::sqrt, {x}); }
Tensor rsqrt(const Tensor& x) { return call_op1(OpId::rsqrt, {x}); }
Tensor sin(const Tensor& x) { return call_op1(OpId::sin, {x}); }
Tensor cos(const Tensor& x) { return call_op1(OpId::cos, {x}); }
Tensor tanh(const Tensor& x) { return call_op1(OpId::tanh, {x}); }
Tensor sigmoid(const Tensor& x) { return call_op1(OpId::sigmoid, {x}); }
Tensor relu(const Tensor& x) { return call_op1(OpId::relu, {x}); }
Tensor erf(const Tensor& x) { return call_op1(OpId::erf, {x}); }
Tensor floor(const Tensor& x) { return call_op1(OpId::floor, {x}); }
Tensor ceil(const Tensor& x) { return call_op1(OpId::ceil, {x}); }
Tensor round(const Tensor& x) { return call_op1(OpId::round, {x}); }
Tensor sign(const Tensor& x) { return call_op1(OpId::sign, {x}); }
Tensor reciprocal(const Tensor& x) { return call_op1(OpId::reciprocal, {x}); }
Tensor logical_not(const Tensor& x) { return call_op1(OpId::logical_not, {x}); }

Tensor pow(const Tensor& x, Scalar e) {
  const Attr a = e.is_floating() ? Attr(e.to_double()) : Attr(e.to_int());
  return call_op1(OpId::pow_scalar, {x}, Attrs{a});
}

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  const Attr lo = min ? Attr(min->to_double()) : Attr(NoneAttr{});
  const Attr hi = max ? Attr(max->to_double()) : Attr(NoneAttr{});
  return call_op1(OpId::clamp, {x}, Attrs{lo, hi});
}

}  // namespace ds
