// Rows and front functions of the unary elementwise primitives.
#include <cmath>
#include <numbers>

#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

using samples::unary;

// pow_scalar: PowScalarAttrs. Integer tensors with an integer exponent stay integers.
void pow_scalar_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  const DType x = c.in[0].dtype();
  DS_CHECK(x != kBool, c.name, "is not defined for bool tensors");
  const Scalar e = c.attrs.get<PowScalarAttrs>().exponent;
  const DType t = e.is_floating() ? rules::to_floating(x) : x;
  if (is_integral(t)) DS_CHECK(e.to_int() >= 0, c.name, "integers cannot be raised to a negative power ({})",
                               e.to_int());
  rules::unary(c, r, t);
  r.casts.assign(1, t);
}

// clamp: ClampAttrs (min, max, each optional)
void clamp_rule(const OpCall& c, RuleResult& r) {
  const auto& a = c.attrs.get<ClampAttrs>();
  DS_CHECK(a.min || a.max, c.name, "at least one of min and max must be given");
  rules::unary_same_rule(c, r);
  // An integer tensor clamped to a fractional bound computes in float, as PyTorch's type promotion does.
  bool fractional = false;
  for (const std::optional<double>& b : {a.min, a.max}) fractional |= b && std::floor(*b) != *b;
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
  const double e = c.attrs.get<PowScalarAttrs>().exponent.to_double();
  if (e == 0) return {zeros_like(c.grad[0])};
  return {c.grad[0] * pow(c.in[0], e - 1) * e};
}
TensorList clamp_vjp(const VjpCtx& c) {
  Tensor keep;
  const Tensor& x = c.in[0];
  const auto& a = c.attrs.get<ClampAttrs>();
  if (a.min) keep = x >= *a.min;
  if (a.max) keep = keep.defined() ? (keep & (x <= *a.max)) : (x <= *a.max);
  return {where(keep, c.grad[0], 0)};
}

constexpr DTypeSet kNumbers = kFloatTypes | kIntTypes;

// The row of a unary elementwise primitive without attributes; its CUDA kernel runs the dtypes the CPU one does.
OpDef unary_row(std::string_view name, RuleFn rule, KernelFn cpu, const PointwiseMath* pointwise, KernelFn cuda, DTypeSet dtypes,
                AutocastClass autocast, VjpFn vjp, uint32_t save_in, uint32_t save_out, TestFacts test) {
  return OpDef{.name = name, .rule = rule, .cpu = cpu, .pointwise = pointwise, .cuda = cuda, .cpu_dtypes = dtypes, .cuda_dtypes = dtypes,
               .autocast = autocast, .vjp = vjp, .save_in = save_in, .save_out = save_out, .strided_out = true,
               .test = std::move(test)};
}
constexpr AutocastClass kAsIs = AutocastClass::Passthrough, kInF32 = AutocastClass::F32;

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(neg) unary_row("neg", rules::unary_same_rule, cpu::neg, &cpu::neg_pointwise, DS_CUDA_KERNEL(neg),
    kNumbers, kAsIs, neg_vjp, 0, 0, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return neg(x); }); },
    .ref1 = [](double x) { return -x; }, .gradgrad = true});
DS_PRIMITIVE_ROW(abs) unary_row("abs", rules::unary_same_rule, cpu::abs, &cpu::abs_pointwise, DS_CUDA_KERNEL(abs),
    kNumbers, kAsIs, abs_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return abs(x); }); },
    .ref1 = [](double x) { return std::fabs(x); }});
DS_PRIMITIVE_ROW(exp) unary_row("exp", rules::unary_float_rule, cpu::exp, &cpu::exp_pointwise, DS_CUDA_KERNEL(exp),
    kFloatTypes, kInF32, exp_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return exp(x); }); },
    .ref1 = [](double x) { return std::exp(x); }, .gradgrad = true});
DS_PRIMITIVE_ROW(log) unary_row("log", rules::unary_float_rule, cpu::log, &cpu::log_pointwise, DS_CUDA_KERNEL(log),
    kFloatTypes, kInF32, log_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, 0.5, 3, [](const Tensor& x) { return log(x); }); },
    .ref1 = [](double x) { return std::log(x); }, .gradgrad = true});
DS_PRIMITIVE_ROW(log1p) unary_row("log1p", rules::unary_float_rule, cpu::log1p, &cpu::log1p_pointwise, DS_CUDA_KERNEL(log1p),
    kFloatTypes, kInF32, log1p_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, -0.5, 2, [](const Tensor& x) { return log1p(x); }); },
    .ref1 = [](double x) { return std::log1p(x); }});
DS_PRIMITIVE_ROW(expm1) unary_row("expm1", rules::unary_float_rule, cpu::expm1, &cpu::expm1_pointwise, DS_CUDA_KERNEL(expm1),
    kFloatTypes, kInF32, expm1_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return expm1(x); }); },
    .ref1 = [](double x) { return std::expm1(x); }});
DS_PRIMITIVE_ROW(sqrt) unary_row("sqrt", rules::unary_float_rule, cpu::sqrt, &cpu::sqrt_pointwise, DS_CUDA_KERNEL(sqrt),
    kFloatTypes, kInF32, sqrt_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, 0.5, 3, [](const Tensor& x) { return sqrt(x); }); },
    .ref1 = [](double x) { return std::sqrt(x); }, .gradgrad = true});
DS_PRIMITIVE_ROW(rsqrt) unary_row("rsqrt", rules::unary_float_rule, cpu::rsqrt, &cpu::rsqrt_pointwise, DS_CUDA_KERNEL(rsqrt),
    kFloatTypes, kInF32, rsqrt_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, 0.5, 3, [](const Tensor& x) { return rsqrt(x); }); },
    .ref1 = [](double x) { return 1 / std::sqrt(x); }});
DS_PRIMITIVE_ROW(sin) unary_row("sin", rules::unary_float_rule, cpu::sin, &cpu::sin_pointwise, DS_CUDA_KERNEL(sin),
    kFloatTypes, kAsIs, sin_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return sin(x); }); },
    .ref1 = [](double x) { return std::sin(x); }, .gradgrad = true});
DS_PRIMITIVE_ROW(cos) unary_row("cos", rules::unary_float_rule, cpu::cos, &cpu::cos_pointwise, DS_CUDA_KERNEL(cos),
    kFloatTypes, kAsIs, cos_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return cos(x); }); },
    .ref1 = [](double x) { return std::cos(x); }});
DS_PRIMITIVE_ROW(tanh) unary_row("tanh", rules::unary_float_rule, cpu::tanh, &cpu::tanh_pointwise, DS_CUDA_KERNEL(tanh),
    kFloatTypes, kAsIs, tanh_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return tanh(x); }); },
    .ref1 = [](double x) { return std::tanh(x); }, .gradgrad = true});
DS_PRIMITIVE_ROW(sigmoid) unary_row("sigmoid", rules::unary_float_rule, cpu::sigmoid, &cpu::sigmoid_pointwise, DS_CUDA_KERNEL(sigmoid),
    kFloatTypes, kAsIs, sigmoid_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, -4, 4, [](const Tensor& x) { return sigmoid(x); }); },
    .ref1 = [](double x) { return 1 / (1 + std::exp(-x)); }, .gradgrad = true});
DS_PRIMITIVE_ROW(relu) unary_row("relu", rules::unary_same_rule, cpu::relu, &cpu::relu_pointwise, DS_CUDA_KERNEL(relu),
    kNumbers, kAsIs, relu_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return relu(x); }); },
    .ref1 = [](double x) { return x > 0 ? x : 0.0; }});
DS_PRIMITIVE_ROW(erf) unary_row("erf", rules::unary_float_rule, cpu::erf, &cpu::erf_pointwise, DS_CUDA_KERNEL(erf),
    kFloatTypes, kAsIs, erf_vjp, 1, 0, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return erf(x); }); },
    .ref1 = [](double x) { return std::erf(x); }});
DS_PRIMITIVE_ROW(floor) unary_row("floor", rules::unary_same_rule, cpu::floor, nullptr, DS_CUDA_KERNEL(floor),
    kNumbers, kAsIs, zero_vjp, 0, 0, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return floor(x); }); },
    .ref1 = [](double x) { return std::floor(x); }});
DS_PRIMITIVE_ROW(ceil) unary_row("ceil", rules::unary_same_rule, cpu::ceil, nullptr, DS_CUDA_KERNEL(ceil),
    kNumbers, kAsIs, zero_vjp, 0, 0, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return ceil(x); }); },
    .ref1 = [](double x) { return std::ceil(x); }});
DS_PRIMITIVE_ROW(round) unary_row("round", rules::unary_same_rule, cpu::round, nullptr, DS_CUDA_KERNEL(round),
    kNumbers, kAsIs, zero_vjp, 0, 0, {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return round(x); }); },
    .ref1 = [](double x) { return std::nearbyint(x); }});
DS_PRIMITIVE_ROW(sign) unary_row("sign", rules::unary_same_rule, cpu::sign, nullptr, DS_CUDA_KERNEL(sign),
    kNumbers, kAsIs, zero_vjp, 0, 0, {
    .cases = [](DType dt) { return unary(dt, -2, 2, [](const Tensor& x) { return sign(x); }); },
    .ref1 = [](double x) { return static_cast<double>((x > 0) - (x < 0)); }});
DS_PRIMITIVE_ROW(reciprocal) unary_row("reciprocal", rules::unary_float_rule,
    cpu::reciprocal, &cpu::reciprocal_pointwise, DS_CUDA_KERNEL(reciprocal), kFloatTypes, kInF32, reciprocal_vjp, 0, 1, {
    .cases = [](DType dt) { return unary(dt, 0.5, 2, [](const Tensor& x) { return reciprocal(x); }); },
    .ref1 = [](double x) { return 1 / x; }, .gradgrad = true});
DS_PRIMITIVE_ROW(pow_scalar) OpDef{.name = "pow_scalar", .attrs = &attrs_schema<PowScalarAttrs>,
    .rule = pow_scalar_rule, .cpu = cpu::pow_scalar, .pointwise = &cpu::pow_scalar_pointwise, .cuda = DS_CUDA_KERNEL(pow_scalar), .cpu_dtypes = kNumbers,
    .cuda_dtypes = kNumbers, .autocast = kInF32, .vjp = pow_scalar_vjp, .save_in = 1, .strided_out = true, .test = {
    .cases = [](DType dt) {
      auto v = unary(dt, 0.5, 2, [](const Tensor& x) { return pow(x, 2.5); });
      for (auto& k : unary(dt, -2, 2, [](const Tensor& x) { return pow(x, 3); })) v.push_back(std::move(k));
      return v;
    },
    .gradgrad = true}};
DS_PRIMITIVE_ROW(clamp) OpDef{.name = "clamp", .attrs = &attrs_schema<ClampAttrs>, .rule = clamp_rule,
    .cpu = cpu::clamp, .pointwise = &cpu::clamp_pointwise, .cuda = DS_CUDA_KERNEL(clamp), .cpu_dtypes = kNumbers, .cuda_dtypes = kNumbers,
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
                                                         "at least one of min and max")}; }}};
DS_PRIMITIVE_ROW(logical_not) OpDef{.name = "logical_not", .rule = logical_not_rule, .cpu = cpu::logical_not,
    .cuda = DS_CUDA_KERNEL(logical_not), .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes, .strided_out = true};
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

Tensor pow(const Tensor& x, Scalar e) { return call_op1(OpId::pow_scalar, {x}, PowScalarAttrs{.exponent = e}); }

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  ClampAttrs a;
  if (min) a.min = min->to_double();
  if (max) a.max = max->to_double();
  return call_op1(OpId::clamp, {x}, a);
}

}  // namespace ds
