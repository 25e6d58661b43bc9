// Rows and front functions of the binary (and ternary: where) elementwise primitives.
#include <cmath>

#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

using samples::binary;

TensorList add_vjp(const VjpCtx& c) { return {c.grad[0], c.grad[0]}; }
TensorList sub_vjp(const VjpCtx& c) { return {c.grad[0], neg(c.grad[0])}; }
TensorList mul_vjp(const VjpCtx& c) {
  TensorList g(2);
  if (c.needs_grad(0)) g[0] = c.grad[0] * c.in[1];
  if (c.needs_grad(1)) g[1] = c.grad[0] * c.in[0];
  return g;
}
TensorList div_vjp(const VjpCtx& c) {
  TensorList g(2);
  if (c.needs_grad(0)) g[0] = c.grad[0] / c.in[1];
  if (c.needs_grad(1)) g[1] = -(c.grad[0] * c.in[0]) / square(c.in[1]);
  return g;
}
// d/da a^b = b a^(b-1); d/db a^b = a^b log a, taken as 0 where a == 0 and b >= 0 (the limit), as PyTorch does.
TensorList pow_vjp(const VjpCtx& c) {
  const Tensor &a = c.in[0], &b = c.in[1];
  TensorList g(2);
  if (c.needs_grad(0)) g[0] = c.grad[0] * b * pow(a, b - 1);
  if (c.needs_grad(1)) g[1] = c.grad[0] * where((a == 0) & (b >= 0), zeros_like(a), pow(a, b) * log(a));
  return g;
}
// Ties split the gradient evenly between the two inputs.
TensorList maxmin_vjp(const VjpCtx& c, bool is_max) {
  const Tensor &a = c.in[0], &b = c.in[1];
  const Tensor wins = is_max ? (a > b) : (a < b);
  const DType dt = c.grad[0].dtype();
  const Tensor share = wins.to(dt) + (a == b).to(dt) * 0.5;
  TensorList g(2);
  if (c.needs_grad(0)) g[0] = c.grad[0] * share;
  if (c.needs_grad(1)) g[1] = c.grad[0] * (1 - share);
  return g;
}
TensorList maximum_vjp(const VjpCtx& c) { return maxmin_vjp(c, true); }
TensorList minimum_vjp(const VjpCtx& c) { return maxmin_vjp(c, false); }
TensorList where_vjp(const VjpCtx& c) {
  TensorList g(3);
  if (c.needs_grad(1)) g[1] = where(c.in[0], c.grad[0], 0);
  if (c.needs_grad(2)) g[2] = where(c.in[0], 0, c.grad[0]);
  return g;
}

// where: cond must be bool; a and b promote together; all three broadcast.
void where_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 3);
  DS_CHECK(c.in[0].dtype() == kBool, c.name, "the condition must be a bool tensor, got {} (shape {})",
           dtype_name(c.in[0].dtype()), shape_str(c.in[0].sizes()));
  const DType t = rules::result_type(c.in.subspan(1));
  rules::nary_broadcast(c, r, t, t);
  r.casts[0] = kBool;
}

constexpr DTypeSet kNumbers = kFloatTypes | kIntTypes;

// The CUDA kernels run the CPU kernels' dtypes.
OpDef binary_row(std::string_view name, RuleFn rule, KernelFn cpu, const PointwiseMath* pointwise, KernelFn cuda, DTypeSet dtypes, VjpFn vjp,
                 uint32_t save_in, TestFacts t, AutocastClass autocast = AutocastClass::Passthrough) {
  return OpDef{.name = name, .rule = rule, .cpu = cpu, .pointwise = pointwise, .cuda = cuda, .cpu_dtypes = dtypes, .cuda_dtypes = dtypes,
               .autocast = autocast, .vjp = vjp, .save_in = save_in, .strided_out = true, .test = std::move(t)};
}

std::vector<BadCase> broadcast_bad() {
  return {samples::bad("shapes that do not broadcast", [] { add(ones({2, 3}), ones({4})); }, "cannot be broadcast"),
          samples::bad("bool minus bool", [] { sub(ones({2}, {.dtype = kBool}), ones({2}, {.dtype = kBool})); },
                       "not defined for two bool tensors"),
          samples::bad("float into int in place", [] { auto t = zeros({2}, {.dtype = kI64}); t.add_(ones({2})); },
                       "cannot be cast"),
          samples::bad("in place would broadcast the target", [] { auto t = zeros({2}); t.add_(ones({3, 2})); },
                       "the tensor modified in place has [2]")};
}

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(add) binary_row("add", rules::binary_arith_rule, cpu::add, &cpu::add_pointwise, DS_CUDA_KERNEL(add), kAllTypes, add_vjp, 0, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return a + b; }); },
    .bad = broadcast_bad, .ref2 = [](double a, double b) { return a + b; }, .gradgrad = true});
DS_PRIMITIVE_ROW(sub) binary_row("sub", rules::binary_arith_rule, cpu::sub, &cpu::sub_pointwise, DS_CUDA_KERNEL(sub), kNumbers, sub_vjp, 0, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return a - b; }); },
    .ref2 = [](double a, double b) { return a - b; }});
DS_PRIMITIVE_ROW(mul) binary_row("mul", rules::binary_arith_rule, cpu::mul, &cpu::mul_pointwise, DS_CUDA_KERNEL(mul), kAllTypes, mul_vjp, 3, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return a * b; }); },
    .ref2 = [](double a, double b) { return a * b; }, .gradgrad = true});
DS_PRIMITIVE_ROW(div) binary_row("div", rules::binary_float_rule, cpu::div, &cpu::div_pointwise, DS_CUDA_KERNEL(div), kNumbers, div_vjp, 3, {
    .cases = [](DType dt) { return binary(dt, -2, 2, 0.5, 2, [](const Tensor& a, const Tensor& b) { return a / b; }); },
    .ref2 = [](double a, double b) { return a / b; }, .gradgrad = true});
DS_PRIMITIVE_ROW(pow) binary_row("pow", rules::binary_float_rule, cpu::pow, &cpu::pow_pointwise, DS_CUDA_KERNEL(pow),
    kFloatTypes, pow_vjp, 3, {
    .cases = [](DType dt) { return binary(dt, 0.5, 2, -1.5, 1.5, [](const Tensor& a, const Tensor& b) { return pow(a, b); }); },
    .ref2 = [](double a, double b) { return std::pow(a, b); }, .gradgrad = true}, AutocastClass::F32);
DS_PRIMITIVE_ROW(maximum) binary_row("maximum", rules::binary_arith_rule, cpu::maximum, &cpu::maximum_pointwise, DS_CUDA_KERNEL(maximum),
    kAllTypes, maximum_vjp, 3, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return maximum(a, b); }); },
    .ref2 = [](double a, double b) { return std::max(a, b); }});
DS_PRIMITIVE_ROW(minimum) binary_row("minimum", rules::binary_arith_rule, cpu::minimum, &cpu::minimum_pointwise, DS_CUDA_KERNEL(minimum),
    kAllTypes, minimum_vjp, 3, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return minimum(a, b); }); },
    .ref2 = [](double a, double b) { return std::min(a, b); }});
DS_PRIMITIVE_ROW(eq) binary_row("eq", rules::compare_rule, cpu::eq, &cpu::eq_pointwise, DS_CUDA_KERNEL(eq), kAllTypes, nullptr, 0, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return eq(a, b); }, true); },
    .ref2 = [](double a, double b) { return double(a == b); }});
DS_PRIMITIVE_ROW(ne) binary_row("ne", rules::compare_rule, cpu::ne, &cpu::ne_pointwise, DS_CUDA_KERNEL(ne), kAllTypes, nullptr, 0, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return ne(a, b); }, true); },
    .ref2 = [](double a, double b) { return double(a != b); }});
DS_PRIMITIVE_ROW(lt) binary_row("lt", rules::compare_rule, cpu::lt, &cpu::lt_pointwise, DS_CUDA_KERNEL(lt), kAllTypes, nullptr, 0, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return lt(a, b); }, true); },
    .ref2 = [](double a, double b) { return double(a < b); }});
DS_PRIMITIVE_ROW(le) binary_row("le", rules::compare_rule, cpu::le, &cpu::le_pointwise, DS_CUDA_KERNEL(le), kAllTypes, nullptr, 0, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return le(a, b); }, true); },
    .ref2 = [](double a, double b) { return double(a <= b); }});
DS_PRIMITIVE_ROW(gt) binary_row("gt", rules::compare_rule, cpu::gt, &cpu::gt_pointwise, DS_CUDA_KERNEL(gt), kAllTypes, nullptr, 0, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return gt(a, b); }, true); },
    .ref2 = [](double a, double b) { return double(a > b); }});
DS_PRIMITIVE_ROW(ge) binary_row("ge", rules::compare_rule, cpu::ge, &cpu::ge_pointwise, DS_CUDA_KERNEL(ge), kAllTypes, nullptr, 0, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return ge(a, b); }, true); },
    .ref2 = [](double a, double b) { return double(a >= b); }});
DS_PRIMITIVE_ROW(logical_and) binary_row("logical_and", rules::logical_rule, cpu::logical_and, nullptr,
    DS_CUDA_KERNEL(logical_and), kAllTypes, nullptr, 0, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return logical_and(a, b); }, true); },
    .ref2 = [](double a, double b) { return double(a != 0 && b != 0); }});
DS_PRIMITIVE_ROW(logical_or) binary_row("logical_or", rules::logical_rule, cpu::logical_or, nullptr, DS_CUDA_KERNEL(logical_or),
    kAllTypes, nullptr, 0, {
    .cases = [](DType dt) { return binary(dt, -2, 2, -2, 2, [](const Tensor& a, const Tensor& b) { return logical_or(a, b); }, true); },
    .ref2 = [](double a, double b) { return double(a != 0 || b != 0); }});
DS_PRIMITIVE_ROW(where) OpDef{.name = "where", .rule = where_rule, .cpu = cpu::where, .pointwise = &cpu::where_pointwise, .cuda = DS_CUDA_KERNEL(where),
    .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes, .dtype_input = 1, .vjp = where_vjp, .save_in = 1,
    .strided_out = true, .test = {
    .cases = [](DType dt) {
      std::vector<OpCase> v;
      const Tensor cond = samples::uniform({3, 4}, kF64, -1, 1, 11) > 0;
      v.push_back(samples::make1("same shape", {cond, samples::uniform({3, 4}, dt, -2, 2, 12),
                                                samples::uniform({3, 4}, dt, -2, 2, 13)},
                                 [](const TensorList& x) { return where(x[0], x[1], x[2]); }, 6));
      v.push_back(samples::make1("broadcast", {cond.narrow(1, 0, 1), samples::uniform({4}, dt, -2, 2, 14),
                                               samples::uniform({3, 1}, dt, -2, 2, 15)},
                                 [](const TensorList& x) { return where(x[0], x[1], x[2]); }, 6));
      v.push_back(samples::make1("hand-computed", {tensor({true, false, true}), tensor({1.0, 2.0, 3.0}).to(dt),
                                                   tensor({-1.0, -2.0, -3.0}).to(dt)},
                                 [](const TensorList& x) { return where(x[0], x[1], x[2]); }, 6));
      v.back().expected = {{1, -2, 3}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{samples::bad("float condition", [] { where(ones({2}), ones({2}), ones({2})); },
                                                         "condition must be a bool tensor")}; },
    .gradgrad = true}};
// clang-format on

Tensor add(const Tensor& a, const Tensor& b) { return call_op1(OpId::add, {a, b}); }
Tensor sub(const Tensor& a, const Tensor& b) { return call_op1(OpId::sub, {a, b}); }
Tensor mul(const Tensor& a, const Tensor& b) { return call_op1(OpId::mul, {a, b}); }
Tensor div(const Tensor& a, const Tensor& b) { return call_op1(OpId::div, {a, b}); }
Tensor pow(const Tensor& a, const Tensor& b) { return call_op1(OpId::pow, {a, b}); }
Tensor maximum(const Tensor& a, const Tensor& b) { return call_op1(OpId::maximum, {a, b}); }
Tensor minimum(const Tensor& a, const Tensor& b) { return call_op1(OpId::minimum, {a, b}); }
Tensor eq(const Tensor& a, const Tensor& b) { return call_op1(OpId::eq, {a, b}); }
Tensor ne(const Tensor& a, const Tensor& b) { return call_op1(OpId::ne, {a, b}); }
Tensor lt(const Tensor& a, const Tensor& b) { return call_op1(OpId::lt, {a, b}); }
Tensor le(const Tensor& a, const Tensor& b) { return call_op1(OpId::le, {a, b}); }
Tensor gt(const Tensor& a, const Tensor& b) { return call_op1(OpId::gt, {a, b}); }
Tensor ge(const Tensor& a, const Tensor& b) { return call_op1(OpId::ge, {a, b}); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return call_op1(OpId::logical_and, {a, b}); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return call_op1(OpId::logical_or, {a, b}); }
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) { return call_op1(OpId::where, {cond, a, b}); }
Tensor where(const Tensor& cond, const Tensor& a, Scalar b) { return where(cond, a, wrap_scalar(b, a.device())); }
Tensor where(const Tensor& cond, Scalar a, const Tensor& b) { return where(cond, wrap_scalar(a, b.device()), b); }

Tensor add(const Tensor& a, Scalar b) { return add(a, wrap_scalar(b, a.device())); }
Tensor sub(const Tensor& a, Scalar b) { return sub(a, wrap_scalar(b, a.device())); }
Tensor sub(Scalar a, const Tensor& b) { return sub(wrap_scalar(a, b.device()), b); }
Tensor mul(const Tensor& a, Scalar b) { return mul(a, wrap_scalar(b, a.device())); }
Tensor div(const Tensor& a, Scalar b) { return div(a, wrap_scalar(b, a.device())); }
Tensor div(Scalar a, const Tensor& b) { return div(wrap_scalar(a, b.device()), b); }
Tensor pow(Scalar a, const Tensor& b) { return pow(wrap_scalar(a, b.device()), b); }
Tensor eq(const Tensor& a, Scalar b) { return eq(a, wrap_scalar(b, a.device())); }
Tensor ne(const Tensor& a, Scalar b) { return ne(a, wrap_scalar(b, a.device())); }
Tensor lt(const Tensor& a, Scalar b) { return lt(a, wrap_scalar(b, a.device())); }
Tensor le(const Tensor& a, Scalar b) { return le(a, wrap_scalar(b, a.device())); }
Tensor gt(const Tensor& a, Scalar b) { return gt(a, wrap_scalar(b, a.device())); }
Tensor ge(const Tensor& a, Scalar b) { return ge(a, wrap_scalar(b, a.device())); }
Tensor maximum(const Tensor& a, Scalar b) { return maximum(a, wrap_scalar(b, a.device())); }
Tensor minimum(const Tensor& a, Scalar b) { return minimum(a, wrap_scalar(b, a.device())); }

}  // namespace ds
