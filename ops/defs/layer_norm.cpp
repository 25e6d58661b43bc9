// Rows and front function of layer_norm, fused: one pass computes y and the rows' mean and 1/std, and
// layer_norm_backward computes dx, dweight and dbias in one pass over the saved statistics (ops/cpu/layer_norm.cpp).
// Measured on GPT-mini (./ds bench models --profile): the composite's 20 elementwise and reduction passes per layer
// norm were a tenth of the step. The vjp calls the fused backward; the vjp_graph, which the engine takes when the
// backward itself is being recorded (create_graph), is the formula in ds ops, so layer_norm still differentiates
// twice.
// detail::layer_norm_math (ops/composite/norm.cpp) is the reference the kernels are tested against.
//   x: (..., *normalized_shape) viewed as (M, N)   weight, bias: normalized_shape   mean, rstd: (...)
#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/reduce.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

// LayerNormAttrs (eps, normalized_dims: the number k of normalized trailing dims). in: x, weight, bias.
void layer_norm_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 3);
  const Tensor &x = c.in[0], &w = c.in[1], &b = c.in[2];
  const int64_t k = c.attrs.get<LayerNormAttrs>().normalized_dims;
  DS_CHECK(k >= 1 && k <= x.dim(), c.name, "normalizes {} trailing dims of a {}-d input", k, x.dim());
  const Shape norm(x.sizes().end() - k, x.sizes().end());
  DS_CHECK(w.sizes() == norm && b.sizes() == norm, c.name, "weight {} and bias {} must have normalized_shape {}",
           shape_str(w.sizes()), shape_str(b.sizes()), shape_str(norm));
  DS_CHECK((x.dtype() == kF32 || x.dtype() == kF64) && w.dtype() == x.dtype() && b.dtype() == x.dtype(), c.name,
           "expects x, weight and bias of one dtype, f32 or f64, got {}, {}, {}", dtype_name(x.dtype()),
           dtype_name(w.dtype()), dtype_name(b.dtype()));
  r.device = x.device();
  r.outs.push_back({x.sizes(), x.dtype()});
  const Shape rows(x.sizes().begin(), x.sizes().end() - k);
  r.outs.push_back({rows, x.dtype()});  // mean
  r.outs.push_back({rows, x.dtype()});  // rstd = 1 / sqrt(var + eps)
}

// in: grad, x, weight, mean, rstd -> dx, dweight, dbias
void layer_norm_backward_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 5);
  const Tensor &g = c.in[0], &x = c.in[1], &w = c.in[2];
  DS_CHECK(g.sizes() == x.sizes() && g.dtype() == x.dtype(), c.name, "grad {} {} must match x {} {}",
           shape_str(g.sizes()), dtype_name(g.dtype()), shape_str(x.sizes()), dtype_name(x.dtype()));
  r.device = x.device();
  r.outs.push_back({x.sizes(), x.dtype()});
  r.outs.push_back({w.sizes(), x.dtype()});
  r.outs.push_back({w.sizes(), x.dtype()});
}

TensorList layer_norm_vjp(const VjpCtx& c) {
  return call_op(OpId::layer_norm_backward, {c.grad[0].contiguous(), c.in[0], c.in[1], c.out[1], c.out[2]}, c.attrs);
}

// Recorded backward (create_graph): the same formula in ds ops, differentiable in g, x and w.
TensorList layer_norm_vjp_graph(const VjpCtx& c) {
  const Tensor &g = c.grad[0], &x = c.in[0], &w = c.in[1];
  const auto& a = c.attrs.get<LayerNormAttrs>();
  const int64_t k = a.normalized_dims;
  Shape dims;
  for (int64_t i = x.dim() - k; i < x.dim(); ++i) dims.push_back(i);
  const Tensor xc = x - mean(x, dims, true);
  const Tensor rstd = rsqrt(mean(square(xc), dims, true) + a.eps);
  const Tensor xhat = xc * rstd;
  const Tensor gw = g * w;
  const Tensor dx = rstd * (gw - mean(gw, dims, true) - xhat * mean(gw * xhat, dims, true));
  return {dx, g * xhat, g};  // the engine sums dweight and dbias over the leading dims
}

using samples::make1;
using samples::uniform;

Tensor hand_input() { return tensor({{1.0, 3.0}, {5.0, 7.0}}); }

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(layer_norm) OpDef{.name = "layer_norm", .attrs = &attrs_schema<LayerNormAttrs>,
    .rule = layer_norm_rule, .cpu = cpu::layer_norm, .cuda = DS_CUDA_KERNEL(layer_norm), .cpu_dtypes = {kF32, kF64},
    .cuda_dtypes = {kF32, kF64}, .autocast = AutocastClass::F32, .vjp = layer_norm_vjp,
    .vjp_graph = layer_norm_vjp_graph, .save_in = 0b011, .save_out = 0b110, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("last dim with affine", {uniform({2, 3, 4}, dt, -2, 2, 1), uniform({4}, dt, 0.5, 1.5, 2), uniform({4}, dt, -1, 1, 3)},
              [](const TensorList& x) { return layer_norm(x[0], {4}, x[1], x[2]); }),
        make1("last two dims, transposed input", {samples::transposed({3, 4}, dt, -2, 2, 4)}, [](const TensorList& x) { return layer_norm(x[0], {3, 4}); }),
        make1("width 384 rows (the vectorised body and its tail)", {uniform({3, 389}, dt, -2, 2, 5), uniform({389}, dt, 0.5, 1.5, 6),
              uniform({389}, dt, -1, 1, 7)}, [](const TensorList& x) { return layer_norm(x[0], {389}, x[1], x[2], 1e-5); }),
        make1("hand-computed", {hand_input().to(dt)}, [](const TensorList& x) { return layer_norm(x[0], {2}, {}, {}, 0.0); })};
      v.back().expected = {{-1, 1, -1, 1}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{
      samples::bad("shape", [] { layer_norm(ones({2, 3}), {4}); }, "does not end in normalized_shape"),
      samples::bad("weight shape", [] { layer_norm(ones({2, 3}), {3}, ones({2})); }, "must have normalized_shape"),
      samples::bad("integer input", [] { layer_norm(ones({2, 3}, {.dtype = kI64}), {3}); }, "f32 or f64")}; },
    .gradgrad = true}};
// Its kernels run in x's dtype (input 1).
DS_PRIMITIVE_ROW(layer_norm_backward) OpDef{.name = "layer_norm_backward", .attrs = &attrs_schema<LayerNormAttrs>,
    .rule = layer_norm_backward_rule, .cpu = cpu::layer_norm_backward, .cuda = DS_CUDA_KERNEL(layer_norm_backward),
    .cpu_dtypes = {kF32, kF64}, .cuda_dtypes = {kF32, kF64}, .dtype_input = 1};
// clang-format on

Tensor layer_norm(const Tensor& x, IntArrayRef normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
  const std::string_view op = "layer_norm";
  const auto k = static_cast<int64_t>(normalized_shape.size());
  DS_CHECK(k >= 1 && k <= x.dim(), op, "normalized_shape {} does not fit input {}", shape_str(normalized_shape),
           shape_str(x.sizes()));
  for (int64_t i = 0; i < k; ++i)
    DS_CHECK(x.size(x.dim() - k + i) == normalized_shape[i], op, "input {} does not end in normalized_shape {}",
             shape_str(x.sizes()), shape_str(normalized_shape));
  const Shape norm(normalized_shape.begin(), normalized_shape.end());
  for (const Tensor* p : {&weight, &bias})
    DS_CHECK(!p->defined() || p->sizes() == norm, op, "weight and bias must have normalized_shape {}, got {}",
             shape_str(norm), shape_str(p->sizes()));
  DS_CHECK(x.dtype() == kF32 || x.dtype() == kF64, op, "expects f32 or f64, got {}", dtype_name(x.dtype()));
  // A missing affine part is the identity one (no gradient asked of it).
  const TensorOptions o{.dtype = x.dtype(), .device = x.device()};
  const Tensor w = weight.defined() ? weight : ones(norm, o), b = bias.defined() ? bias : zeros(norm, o);
  return call_op(OpId::layer_norm, {x, w, b}, LayerNormAttrs{.eps = eps, .normalized_dims = k})[0];
}

}  // namespace ds
