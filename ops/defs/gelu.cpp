// Rows and front functions of gelu (erf form, and GPT-2's tanh approximation through the attr `tanh`) and its fused
// derivative gelu_backward. Measured on GPT-mini (./ds bench models --profile): the composite's 7 forward and 12
// backward elementwise passes over the (B, T, 4C) activations were a tenth of the step. The vjp calls the fused
// gelu_backward; the vjp_graph, which the engine takes when the backward is recorded (create_graph), is the formula
// in ds ops.
#include <cmath>
#include <numbers>

#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

TensorList gelu_vjp(const VjpCtx& c) { return {call_op1(OpId::gelu_backward, {c.grad[0], c.in[0]}, c.attrs)}; }

// The recorded backward (create_graph): the same derivative in ds ops, differentiable in g and x.
TensorList gelu_vjp_graph(const VjpCtx& c) {
  const Tensor &g = c.grad[0], &x = c.in[0];
  if (c.attrs.get<GeluAttrs>().tanh) {
    const double k = std::sqrt(2.0 / std::numbers::pi);
    const Tensor t = tanh((x + pow(x, 3) * 0.044715) * k);
    return {g * ((1 + t) * 0.5 + x * 0.5 * (1 - square(t)) * k * (1 + square(x) * (3 * 0.044715)))};
  }
  const Tensor phi = exp(square(x) * -0.5) * (1 / std::sqrt(2 * std::numbers::pi));
  return {g * ((1 + erf(x * (1 / std::numbers::sqrt2))) * 0.5 + x * phi)};
}

using samples::unary;

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(gelu) OpDef{.name = "gelu", .attrs = &attrs_schema<GeluAttrs>, .rule = rules::unary_float_rule,
    .cpu = cpu::gelu, .pointwise = &cpu::gelu_pointwise, .cuda = DS_CUDA_KERNEL(gelu), .cuda_dtypes = kFloatTypes, .vjp = gelu_vjp,
    .vjp_graph = gelu_vjp_graph, .save_in = 0b1, .strided_out = true, .test = {
    .cases = [](DType dt) { return unary(dt, -3, 3, [](const Tensor& x) { return gelu(x); }); },
    .ref1 = [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, .gradgrad = true}};
DS_PRIMITIVE_ROW(gelu_backward) OpDef{.name = "gelu_backward", .attrs = &attrs_schema<GeluAttrs>,
    .rule = rules::binary_float_rule, .cpu = cpu::gelu_backward, .pointwise = &cpu::gelu_backward_pointwise, .cuda = DS_CUDA_KERNEL(gelu_backward),
    .cuda_dtypes = kFloatTypes, .strided_out = true, .test = {
    .cases = [](DType dt) {
      return samples::binary(dt, -2, 2, -3, 3, [](const Tensor& g, const Tensor& x) {
        return call_op1(OpId::gelu_backward, {g, x}, GeluAttrs{.tanh = false}); }); },
    .ref2 = [](double g, double x) {
      return g * (0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi)); }}};
// clang-format on

Tensor gelu(const Tensor& x) { return detail::gelu(x, false); }

namespace detail {
Tensor gelu(const Tensor& x, bool tanh_approximation) {
  return call_op1(OpId::gelu, {x}, GeluAttrs{.tanh = tanh_approximation});
}
}  // namespace detail

}  // namespace ds
