// Rows and front functions of the 2-d convolution primitives: conv2d and the two halves of its backward,
// conv2d_input_grad (the transposed convolution) and conv2d_weight_grad. The three are closed under
// differentiation, so conv nets differentiate twice. conv1d and conv_transpose2d are composites over them.
//   x: (N, C, H, W)   w: (O, C/groups, kh, kw)   y: (N, O, Ho, Wo),  Ho = (H + 2 ph - dh (kh - 1) - 1) / sh + 1
// Attrs: Conv2dAttrs (stride, padding, dilation (each (h, w)), groups); Conv2dInputGradAttrs and
// Conv2dWeightGradAttrs add the size (h, w) of what they produce (the input's image, or the kernel).
#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/shape_ops.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

// The geometry the three ops share, from any of their structs.
template <typename A>
Conv2dAttrs geometry(const A& a) {
  return {.stride = a.stride, .padding = a.padding, .dilation = a.dilation, .groups = a.groups};
}
template <typename A>
Conv2dInputGradAttrs input_grad_attrs(const A& a, Shape input_size) {
  return {.stride = a.stride, .padding = a.padding, .dilation = a.dilation, .groups = a.groups,
          .input_size = std::move(input_size)};
}
template <typename A>
Conv2dWeightGradAttrs weight_grad_attrs(const A& a, Shape kernel_size) {
  return {.stride = a.stride, .padding = a.padding, .dilation = a.dilation, .groups = a.groups,
          .kernel_size = std::move(kernel_size)};
}
// conv2d's attributes from the front functions' options.
Conv2dAttrs conv_attrs(const ConvOptions& o) {
  return {.stride = rules::expand_pair(o.stride, "conv2d"), .padding = rules::expand_pair(o.padding, "conv2d"),
          .dilation = rules::expand_pair(o.dilation, "conv2d"), .groups = o.groups};
}

// The call's geometry, checked.
template <typename A>
Conv2dAttrs checked_geometry(const OpCall& c) {
  Conv2dAttrs a = geometry(c.attrs.get<A>());
  DS_CHECK(a.stride.size() == 2 && a.padding.size() == 2 && a.dilation.size() == 2, c.name,
           "stride, padding and dilation need 2 values each");
  DS_CHECK(a.stride[0] > 0 && a.stride[1] > 0, c.name, "stride must be positive, got {}", shape_str(a.stride));
  DS_CHECK(a.dilation[0] > 0 && a.dilation[1] > 0, c.name, "dilation must be positive, got {}", shape_str(a.dilation));
  DS_CHECK(a.padding[0] >= 0 && a.padding[1] >= 0, c.name, "padding must be non-negative, got {}", shape_str(a.padding));
  DS_CHECK(a.groups > 0, c.name, "groups must be positive, got {}", a.groups);
  return a;
}

int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

// Checks x (N, C, H, W) against w (O, C/groups, kh, kw); returns (Ho, Wo).
std::pair<int64_t, int64_t> check_conv(const OpCall& c, const Conv2dAttrs& a, const Shape& x, const Shape& w) {
  DS_CHECK(x.size() == 4 && w.size() == 4, c.name, "expects input (N, C, H, W) and weight (O, C/groups, kh, kw), got {} and {}",
           shape_str(x), shape_str(w));
  DS_CHECK(x[1] == w[1] * a.groups, c.name, "input {} has {} channels, but weight {} with groups={} expects {}",
           shape_str(x), x[1], shape_str(w), a.groups, w[1] * a.groups);
  DS_CHECK(w[0] % a.groups == 0, c.name, "{} output channels (weight {}) are not divisible by groups={}", w[0],
           shape_str(w), a.groups);
  const int64_t ho = conv_out(x[2], w[2], a.stride[0], a.padding[0], a.dilation[0]);
  const int64_t wo = conv_out(x[3], w[3], a.stride[1], a.padding[1], a.dilation[1]);
  DS_CHECK(x[2] + 2 * a.padding[0] >= a.dilation[0] * (w[2] - 1) + 1 && x[3] + 2 * a.padding[1] >= a.dilation[1] * (w[3] - 1) + 1,
           c.name, "kernel {}x{} (dilation {}) is larger than the padded input {}x{} (input {}, padding {})", w[2], w[3],
           shape_str(a.dilation), x[2] + 2 * a.padding[0], x[3] + 2 * a.padding[1], shape_str(x), shape_str(a.padding));
  return {ho, wo};
}

void float_pair(const OpCall& c, RuleResult& r) {
  const DType t = rules::result_type(c.in);
  DS_CHECK(is_floating(t), c.name, "{} and {}: {} tensors are not supported (floating types only)",
           shape_str(c.in[0].sizes()), shape_str(c.in[1].sizes()), dtype_name(t));
  r.device = rules::common_device(c);
  r.casts.assign(2, t);
}

void conv2d_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 2);
  const Conv2dAttrs a = checked_geometry<Conv2dAttrs>(c);
  const Shape &x = c.in[0].sizes(), &w = c.in[1].sizes();
  const auto [ho, wo] = check_conv(c, a, x, w);
  float_pair(c, r);
  r.outs.push_back({Shape{x[0], w[0], ho, wo}, *r.casts[0]});
}

// conv2d_input_grad(gy, w), input_size: (H, W) of x. -> dx (N, C, H, W)
void input_grad_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 2);
  const Conv2dAttrs a = checked_geometry<Conv2dInputGradAttrs>(c);
  const Shape &gy = c.in[0].sizes(), &w = c.in[1].sizes();
  const Shape& hw = c.attrs.get<Conv2dInputGradAttrs>().input_size;
  DS_CHECK(gy.size() == 4 && hw.size() == 2, c.name, "expects gradient (N, O, Ho, Wo) and an image size (H, W), got {}",
           shape_str(gy));
  const Shape x{gy[0], w.size() == 4 ? w[1] * a.groups : 0, hw[0], hw[1]};
  const auto [ho, wo] = check_conv(c, a, x, w);
  DS_CHECK(gy[1] == w[0] && gy[2] == ho && gy[3] == wo, c.name,
           "gradient {} does not match the output [{}, {}, {}, {}] of weight {} on input {}", shape_str(gy), gy[0], w[0],
           ho, wo, shape_str(w), shape_str(x));
  float_pair(c, r);
  r.outs.push_back({x, *r.casts[0]});
}

// conv2d_weight_grad(x, gy), kernel_size: (kh, kw). -> dw (O, C/groups, kh, kw)
void weight_grad_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 2);
  const Conv2dAttrs a = checked_geometry<Conv2dWeightGradAttrs>(c);
  const Shape &x = c.in[0].sizes(), &gy = c.in[1].sizes();
  const Shape& k = c.attrs.get<Conv2dWeightGradAttrs>().kernel_size;
  DS_CHECK(gy.size() == 4 && k.size() == 2 && x.size() == 4, c.name,
           "expects input (N, C, H, W), gradient (N, O, Ho, Wo) and a kernel size (kh, kw), got {} and {}",
           shape_str(x), shape_str(gy));
  DS_CHECK(x[1] % a.groups == 0, c.name, "{} input channels are not divisible by groups={}", x[1], a.groups);
  const Shape w{gy[1], x[1] / a.groups, k[0], k[1]};
  const auto [ho, wo] = check_conv(c, a, x, w);
  DS_CHECK(gy[0] == x[0] && gy[2] == ho && gy[3] == wo, c.name,
           "gradient {} does not match the output [{}, {}, {}, {}] of a {}x{} kernel on input {}", shape_str(gy), x[0],
           gy[1], ho, wo, k[0], k[1], shape_str(x));
  float_pair(c, r);
  r.outs.push_back({w, *r.casts[0]});
}

Shape hw(const Shape& s) { return Shape{s[2], s[3]}; }

// y = conv(x, w): dx = input_grad(gy, w), dw = weight_grad(x, gy).
TensorList conv2d_vjp(const VjpCtx& c) {
  const auto& a = c.attrs.get<Conv2dAttrs>();
  TensorList g(2);
  if (c.needs_grad(0))
    g[0] = call_op1(OpId::conv2d_input_grad, {c.grad[0], c.in[1]}, input_grad_attrs(a, hw(c.in_sizes[0])));
  if (c.needs_grad(1))
    g[1] = call_op1(OpId::conv2d_weight_grad, {c.in[0], c.grad[0]}, weight_grad_attrs(a, hw(c.in_sizes[1])));
  return g;
}
// dx = input_grad(gy, w) is bilinear: d/dgy = conv(ggx, w), d/dw = weight_grad(ggx, gy).
TensorList input_grad_vjp(const VjpCtx& c) {
  const auto& a = c.attrs.get<Conv2dInputGradAttrs>();
  TensorList g(2);
  if (c.needs_grad(0)) g[0] = call_op1(OpId::conv2d, {c.grad[0], c.in[1]}, geometry(a));
  if (c.needs_grad(1))
    g[1] = call_op1(OpId::conv2d_weight_grad, {c.grad[0], c.in[0]}, weight_grad_attrs(a, hw(c.in_sizes[1])));
  return g;
}
// dw = weight_grad(x, gy): d/dx = input_grad(gy, ggw), d/dgy = conv(x, ggw).
TensorList weight_grad_vjp(const VjpCtx& c) {
  const auto& a = c.attrs.get<Conv2dWeightGradAttrs>();
  TensorList g(2);
  if (c.needs_grad(0))
    g[0] = call_op1(OpId::conv2d_input_grad, {c.in[1], c.grad[0]}, input_grad_attrs(a, hw(c.in_sizes[0])));
  if (c.needs_grad(1)) g[1] = call_op1(OpId::conv2d, {c.in[0], c.grad[0]}, geometry(a));
  return g;
}

using samples::make1;
using samples::uniform;

struct Geometry {
  const char* label;
  Shape x, w;
  ConvOptions o;
};
std::vector<Geometry> geometries() {
  return {{"3x3, padding 1", {2, 3, 5, 5}, {4, 3, 3, 3}, {.padding = {1}}},
          {"stride 2, dilation 2", {1, 2, 7, 6}, {3, 2, 2, 3}, {.stride = {2}, .dilation = {2}}},
          {"groups 2, stride (1, 2), padding (2, 0)", {2, 4, 4, 5}, {6, 2, 3, 2}, {.stride = {1, 2}, .padding = {2, 0}, .groups = 2}},
          {"1x1 on 3 samples", {3, 3, 2, 2}, {2, 3, 1, 1}, {}},
          {"depthwise 3x3 stride 2", {1, 3, 5, 5}, {3, 1, 3, 3}, {.stride = {2}, .padding = {1}, .groups = 3}}};
}

std::vector<OpCase> conv2d_cases(DType dt) {
  std::vector<OpCase> v;
  uint64_t seed = 1;
  for (const Geometry& g : geometries()) {
    const ConvOptions o = g.o;
    v.push_back(make1(g.label, {uniform(g.x, dt, -1, 1, seed), uniform(g.w, dt, -1, 1, seed + 1)},
                      [o](const TensorList& x) { return conv2d(x[0], x[1], {}, o); }));
    seed += 2;
  }
  v.push_back(make1("non-contiguous input", {uniform({2, 5, 5, 3}, dt, -1, 1, 20).permute({0, 3, 1, 2}), uniform({2, 3, 3, 3}, dt, -1, 1, 21)},
                    [](const TensorList& x) { return conv2d(x[0], x[1], {}, {.padding = {1}}); }));
  // x = 1..9 on a 3x3 image, w = [[1, 0], [0, -1]]: y[i][j] = x[i][j] - x[i+1][j+1] = -4 everywhere.
  v.push_back(make1("hand-computed 2x2 difference", {arange(1, 10).reshape({1, 1, 3, 3}).to(dt), tensor({1.0, 0.0, 0.0, -1.0}).reshape({1, 1, 2, 2}).to(dt)},
                    [](const TensorList& x) { return conv2d(x[0], x[1]); }));
  v.back().expected = {{-4, -4, -4, -4}};
  return v;
}

std::vector<OpCase> input_grad_cases(DType dt) {
  std::vector<OpCase> v;
  uint64_t seed = 1;
  for (const Geometry& g : geometries()) {
    const ConvOptions o = g.o;
    const Shape y = conv2d(zeros(g.x), zeros(g.w), {}, o).sizes();
    const Shape hw{g.x[2], g.x[3]};
    v.push_back(make1(g.label, {uniform(y, dt, -1, 1, seed), uniform(g.w, dt, -1, 1, seed + 1)}, [o, hw](const TensorList& x) {
      return call_op1(OpId::conv2d_input_grad, {x[0], x[1]}, input_grad_attrs(conv_attrs(o), hw));
    }));
    seed += 2;
  }
  return v;
}

std::vector<OpCase> weight_grad_cases(DType dt) {
  std::vector<OpCase> v;
  uint64_t seed = 1;
  for (const Geometry& g : geometries()) {
    const ConvOptions o = g.o;
    const Shape y = conv2d(zeros(g.x), zeros(g.w), {}, o).sizes();
    const Shape k{g.w[2], g.w[3]};
    v.push_back(make1(g.label, {uniform(g.x, dt, -1, 1, seed), uniform(y, dt, -1, 1, seed + 1)}, [o, k](const TensorList& x) {
      return call_op1(OpId::conv2d_weight_grad, {x[0], x[1]}, weight_grad_attrs(conv_attrs(o), k));
    }));
    seed += 2;
  }
  return v;
}

std::vector<BadCase> conv_bad() {
  return {samples::bad("channels", [] { conv2d(ones({1, 3, 5, 5}), ones({2, 4, 3, 3})); }, "has 3 channels, but weight [2, 4, 3, 3] with groups=1 expects 4"),
          samples::bad("kernel too big", [] { conv2d(ones({1, 1, 2, 2}), ones({1, 1, 3, 3})); }, "is larger than the padded input"),
          samples::bad("3-d weight", [] { conv2d(ones({1, 1, 4, 4}), ones({1, 1, 3})); }, "weight (O, C/groups, kh, kw)"),
          samples::bad("groups", [] { conv2d(ones({1, 4, 4, 4}), ones({3, 2, 1, 1}), {}, {.groups = 2}); }, "not divisible by groups=2"),
          samples::bad("stride 0", [] { conv2d(ones({1, 1, 4, 4}), ones({1, 1, 1, 1}), {}, {.stride = {0}}); }, "stride must be positive"),
          samples::bad("integer input", [] { conv2d(ones({1, 1, 2, 2}, {.dtype = kI64}), ones({1, 1, 1, 1}, {.dtype = kI64})); }, "floating types only"),
          samples::bad("bias size", [] { conv2d(ones({1, 1, 2, 2}), ones({2, 1, 1, 1}), ones({3})); }, "bias of 2 elements"),
          samples::bad("conv1d on 4-d", [] { conv1d(ones({1, 1, 2, 2}), ones({1, 1, 1})); }, "(N, C, L)")};
}

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(conv2d) OpDef{.name = "conv2d", .attrs = &attrs_schema<Conv2dAttrs>, .rule = conv2d_rule,
    .cpu = cpu::conv2d, .cuda = DS_CUDA_KERNEL(conv2d), .cuda_dtypes = kFloatTypes,
    .autocast = AutocastClass::LowPrecision, .vjp = conv2d_vjp, .save_in = 3,
    .test = {.cases = conv2d_cases, .bad = conv_bad, .gradgrad = true}};
DS_PRIMITIVE_ROW(conv2d_input_grad) OpDef{.name = "conv2d_input_grad",
    .attrs = &attrs_schema<Conv2dInputGradAttrs>, .rule = input_grad_rule, .cpu = cpu::conv2d_input_grad,
    .cuda = DS_CUDA_KERNEL(conv2d_input_grad), .cuda_dtypes = kFloatTypes, .autocast = AutocastClass::LowPrecision,
    .vjp = input_grad_vjp, .save_in = 3, .test = {.cases = input_grad_cases}};
DS_PRIMITIVE_ROW(conv2d_weight_grad) OpDef{.name = "conv2d_weight_grad",
    .attrs = &attrs_schema<Conv2dWeightGradAttrs>, .rule = weight_grad_rule, .cpu = cpu::conv2d_weight_grad,
    .cuda = DS_CUDA_KERNEL(conv2d_weight_grad), .cuda_dtypes = kFloatTypes, .autocast = AutocastClass::LowPrecision,
    .vjp = weight_grad_vjp, .save_in = 3, .test = {.cases = weight_grad_cases}};
DS_COMPOSITE_ROW(conv1d) OpDef{.name = "conv1d", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("stride 2, padding 1, bias", {uniform({2, 3, 7}, dt, -1, 1, 1), uniform({4, 3, 3}, dt, -1, 1, 2), uniform({4}, dt, -1, 1, 3)},
              [](const TensorList& x) { return conv1d(x[0], x[1], x[2], {.stride = {2}, .padding = {1}}); }),
        make1("unbatched, groups 2, dilation 2", {uniform({4, 6}, dt, -1, 1, 4), uniform({2, 2, 2}, dt, -1, 1, 5)},
              [](const TensorList& x) { return conv1d(x[0], x[1], {}, {.dilation = {2}, .groups = 2}); }),
        // moving sum of width 2 over 1, 2, 3, 4 plus a bias of 1
        make1("hand-computed", {tensor({1.0, 2.0, 3.0, 4.0}).reshape({1, 1, 4}).to(dt), ones({1, 1, 2}).to(dt), ones({1}).to(dt)},
              [](const TensorList& x) { return conv1d(x[0], x[1], x[2]); })};
      v.back().expected = {{4, 6, 8}};
      return v;
    },
    .gradgrad = true}};
DS_COMPOSITE_ROW(conv_transpose2d) OpDef{.name = "conv_transpose2d", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("stride 2, padding 1, output_padding 1, bias", {uniform({2, 3, 3, 3}, dt, -1, 1, 1), uniform({3, 2, 3, 3}, dt, -1, 1, 2), uniform({2}, dt, -1, 1, 3)},
              [](const TensorList& x) { return conv_transpose2d(x[0], x[1], x[2], {.stride = {2}, .padding = {1}, .output_padding = {1}}); }),
        make1("groups 2, dilation 2", {uniform({1, 4, 2, 3}, dt, -1, 1, 4), uniform({4, 1, 2, 2}, dt, -1, 1, 5)},
              [](const TensorList& x) { return conv_transpose2d(x[0], x[1], {}, {.dilation = {2}, .groups = 2}); }),
        // a 1x1 image of value 2 spread over a 2x2 kernel of 1, 2, 3, 4
        make1("hand-computed", {full({1, 1, 1, 1}, 2.0).to(dt), tensor({1.0, 2.0, 3.0, 4.0}).reshape({1, 1, 2, 2}).to(dt)},
              [](const TensorList& x) { return conv_transpose2d(x[0], x[1]); })};
      v.back().expected = {{2, 4, 6, 8}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{samples::bad("output_padding", [] {
      conv_transpose2d(ones({1, 1, 2, 2}), ones({1, 1, 2, 2}), {}, {.output_padding = {1}}); }, "must be smaller than stride")}; },
    .gradgrad = true}};
// clang-format on

namespace {
Tensor add_bias(const Tensor& y, const Tensor& bias, std::string_view op) {
  if (!bias.defined()) return y;
  DS_CHECK(bias.dim() == 1 && bias.size(0) == y.size(1), op, "expects a bias of {} elements (one per output channel), got {}",
           y.size(1), shape_str(bias.sizes()));
  Shape s(static_cast<size_t>(y.dim()), 1);
  s[1] = y.size(1);
  return y + bias.view(s);
}
// Runs f on a batch of one when x has no batch dim (torch accepts (C, H, W) and (C, L)).
template <typename F>
Tensor batched(const Tensor& x, int64_t batched_dim, F&& f) {
  if (x.dim() == batched_dim - 1) return f(x.unsqueeze(0)).squeeze(0);
  return f(x);
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvOptions& o) {
  return batched(x, 4, [&](const Tensor& xb) {
    const Tensor y = call_op1(OpId::conv2d, {xb, w}, conv_attrs(o));
    return add_bias(y, bias, "conv2d");
  });
}

Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvOptions& o) {
  DS_CHECK(x.dim() == 3 || x.dim() == 2, "conv1d", "expects input (N, C, L) or (C, L), got {}", shape_str(x.sizes()));
  DS_CHECK(w.dim() == 3, "conv1d", "expects weight (O, C/groups, k), got {}", shape_str(w.sizes()));
  return batched(x, 3, [&](const Tensor& xb) {
    DS_CHECK(o.stride.size() == 1 && o.padding.size() == 1 && o.dilation.size() == 1, "conv1d",
             "stride, padding and dilation take one value each");
    const ConvOptions o2{.stride = {1, o.stride[0]}, .padding = {0, o.padding[0]}, .dilation = {1, o.dilation[0]}, .groups = o.groups};
    return conv2d(xb.unsqueeze(2), w.unsqueeze(2), bias, o2).squeeze(2);
  });
}

// The adjoint of conv2d: weight (C_in, C_out/groups, kh, kw) as conv2d's weight of a conv from C_out to C_in channels.
// H_out = (H - 1) sh - 2 ph + dh (kh - 1) + output_padding + 1.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvTransposeOptions& o) {
  DS_CHECK(w.dim() == 4, "conv_transpose2d", "expects weight (C_in, C_out/groups, kh, kw), got {}", shape_str(w.sizes()));
  return batched(x, 4, [&](const Tensor& xb) {
    DS_CHECK(xb.dim() == 4, "conv_transpose2d", "expects input (N, C_in, H, W), got {}", shape_str(x.sizes()));
    const Shape s = rules::expand_pair(o.stride, "conv_transpose2d"), p = rules::expand_pair(o.padding, "conv_transpose2d");
    const Shape d = rules::expand_pair(o.dilation, "conv_transpose2d"), op = rules::expand_pair(o.output_padding, "conv_transpose2d");
    for (int i = 0; i < 2; ++i)
      DS_CHECK(op[i] >= 0 && (op[i] < s[i] || op[i] < d[i]), "conv_transpose2d",
               "output_padding {} must be smaller than stride {} or dilation {}", shape_str(op), shape_str(s), shape_str(d));
    const Shape size{(xb.size(2) - 1) * s[0] - 2 * p[0] + d[0] * (w.size(2) - 1) + op[0] + 1,
                     (xb.size(3) - 1) * s[1] - 2 * p[1] + d[1] * (w.size(3) - 1) + op[1] + 1};
    const Tensor y = call_op1(OpId::conv2d_input_grad, {xb, w},
                              Conv2dInputGradAttrs{.stride = s, .padding = p, .dilation = d, .groups = o.groups,
                                                   .input_size = size});
    return add_bias(y, bias, "conv_transpose2d");
  });
}

}  // namespace ds
