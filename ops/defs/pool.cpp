// Rows and front functions of pooling: the max_pool2d primitive (values and indices; its vjp scatters through the
// indices) and the composites avg_pool2d (a depthwise sum by conv2d, divided by the window counts) and
// adaptive_avg_pool2d (averaging matrices on both sides, exact for any input and output size).
#include <cmath>

#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/linalg.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

// torch's pooling output size: floor or ceil of the window count, where a last window must start inside the input or
// its left padding.
int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  if (span < 0) return 0;  // the window does not fit
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

struct PoolGeometry {
  Shape k, s, p, d;
  int64_t ho, wo;
};
PoolGeometry pool_geometry(const Tensor& x, IntArrayRef kernel, IntArrayRef stride, IntArrayRef padding,
                           IntArrayRef dilation, bool ceil_mode, std::string_view op) {
  DS_CHECK(x.dim() == 4, op, "expects input (N, C, H, W) or (C, H, W), got {}", shape_str(x.sizes()));
  PoolGeometry g{rules::expand_pair(kernel, op), rules::expand_pair(stride.empty() ? kernel : stride, op),
                 rules::expand_pair(padding, op), rules::expand_pair(dilation, op), 0, 0};
  for (int i = 0; i < 2; ++i) {
    DS_CHECK(g.k[i] > 0 && g.s[i] > 0 && g.d[i] > 0, op, "kernel_size {}, stride {} and dilation {} must be positive",
             shape_str(g.k), shape_str(g.s), shape_str(g.d));
    DS_CHECK(g.p[i] >= 0 && g.p[i] <= g.k[i] / 2, op, "padding {} must be at most half the kernel size {}",
             shape_str(g.p), shape_str(g.k));
  }
  g.ho = pool_out(x.size(2), g.k[0], g.s[0], g.p[0], g.d[0], ceil_mode);
  g.wo = pool_out(x.size(3), g.k[1], g.s[1], g.p[1], g.d[1], ceil_mode);
  DS_CHECK(g.ho > 0 && g.wo > 0, op, "kernel {} (dilation {}) does not fit the input {} with padding {}", shape_str(g.k),
           shape_str(g.d), shape_str(x.sizes()), shape_str(g.p));
  return g;
}

// max_pool2d: MaxPool2dAttrs (kernel_size, stride, padding, dilation (each (h, w)), ceil_mode) -> values, indices
void max_pool2d_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  const Tensor& x = c.in[0];
  const auto& a = c.attrs.get<MaxPool2dAttrs>();
  const PoolGeometry g = pool_geometry(x, a.kernel_size, a.stride, a.padding, a.dilation, a.ceil_mode, c.name);
  DS_CHECK(is_floating(x.dtype()), c.name, "expects a floating input, got {}", dtype_name(x.dtype()));
  const Shape out{x.size(0), x.size(1), g.ho, g.wo};
  r.device = x.device();
  r.outs.push_back({out, x.dtype()});
  r.outs.push_back({out, kI64});
}

// The gradient goes back to the argmax of each window (windows that overlap add up).
TensorList max_pool2d_vjp(const VjpCtx& c) {
  const Shape& in = c.in_sizes[0];
  const Tensor& g = c.grad[0];
  const Tensor flat = zeros({in[0], in[1], in[2] * in[3]}, {.dtype = g.dtype(), .device = g.device()});
  return {scatter_add(flat, 2, c.out[1].flatten(2), g.flatten(2)).view(in)};
}

using samples::make1;
using samples::uniform;

TensorList pool_pair(const TensorList& x, IntArrayRef k, const PoolOptions& o) {
  const auto r = max_pool2d_with_indices(x[0], k, o);
  return {r.values, r.indices};
}

std::vector<OpCase> max_pool_cases(DType dt) {
  auto v = std::vector<OpCase>{
      samples::make("2x2 stride 2", {uniform({2, 3, 4, 6}, dt, -2, 2, 1)}, [](const TensorList& x) { return pool_pair(x, {2}, {}); }),
      samples::make("3x3 stride 2 padding 1 (overlapping windows)", {uniform({1, 2, 5, 5}, dt, -2, 2, 2)},
                    [](const TensorList& x) { return pool_pair(x, {3}, {.stride = {2}, .padding = {1}}); }),
      samples::make("ceil_mode, dilation 2", {uniform({1, 1, 7, 6}, dt, -2, 2, 3)},
                    [](const TensorList& x) { return pool_pair(x, {2, 2}, {.stride = {2}, .dilation = {2}, .ceil_mode = true}); }),
      samples::make("non-contiguous", {uniform({2, 4, 4, 3}, dt, -2, 2, 4).permute({0, 3, 1, 2})},
                    [](const TensorList& x) { return pool_pair(x, {2}, {.stride = {1}}); }),
      samples::make("hand-computed, ceil_mode keeps a partial window", {arange(0, 9).reshape({1, 1, 3, 3}).to(dt)},
                    [](const TensorList& x) { return pool_pair(x, {2}, {.ceil_mode = true}); }, 0)};
  v.back().expected = {{4, 5, 7, 8}, {4, 5, 7, 8}};
  return v;
}

std::vector<BadCase> pool_bad() {
  return {samples::bad("2-d input", [] { max_pool2d(ones({4, 4}), {2}); }, "expects input (N, C, H, W)"),
          samples::bad("padding > k/2", [] { max_pool2d(ones({1, 1, 4, 4}), {2}, {.padding = {2}}); }, "at most half"),
          samples::bad("kernel larger than input", [] { max_pool2d(ones({1, 1, 2, 2}), {3}); }, "does not fit"),
          samples::bad("avg_pool2d stride 0", [] { avg_pool2d(ones({1, 1, 4, 4}), {2}, {.stride = {0}}); }, "must be positive"),
          samples::bad("adaptive size 0", [] { adaptive_avg_pool2d(ones({1, 1, 4, 4}), {0}); }, "positive output size")};
}

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(max_pool2d) OpDef{.name = "max_pool2d", .attrs = &attrs_schema<MaxPool2dAttrs>,
    .rule = max_pool2d_rule, .cpu = cpu::max_pool2d, .cuda = DS_CUDA_KERNEL(max_pool2d), .cpu_dtypes = {kF32, kF64},
    .cuda_dtypes = kFloatTypes, .vjp = max_pool2d_vjp, .save_out = 2,
    .test = {.cases = max_pool_cases, .bad = pool_bad}};
DS_COMPOSITE_ROW(avg_pool2d) OpDef{.name = "avg_pool2d", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("2x2", {uniform({2, 3, 4, 4}, dt, -2, 2, 1)}, [](const TensorList& x) { return avg_pool2d(x[0], {2}); }),
        make1("3x3 stride 2 padding 1, count_include_pad", {uniform({1, 2, 5, 6}, dt, -2, 2, 2)},
              [](const TensorList& x) { return avg_pool2d(x[0], {3}, {.stride = {2}, .padding = {1}}); }),
        make1("padding 1, exclude pad, ceil_mode", {uniform({1, 2, 5, 5}, dt, -2, 2, 3)},
              [](const TensorList& x) { return avg_pool2d(x[0], {2}, {.padding = {1}, .ceil_mode = true, .count_include_pad = false}); }),
        // 0..8 on 3x3, 2x2 windows, stride 2, ceil_mode: windows {0,1,3,4}, {2,5}, {6,7}, {8}
        make1("hand-computed ceil_mode partial windows", {arange(0, 9).reshape({1, 1, 3, 3}).to(dt)},
              [](const TensorList& x) { return avg_pool2d(x[0], {2}, {.ceil_mode = true}); })};
      v.back().expected = {{2, 3.5, 6.5, 8}};
      return v;
    },
    .bad = pool_bad, .gradgrad = true}};
DS_COMPOSITE_ROW(adaptive_avg_pool2d) OpDef{.name = "adaptive_avg_pool2d", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("to 1x1", {uniform({2, 3, 4, 5}, dt, -2, 2, 1)}, [](const TensorList& x) { return adaptive_avg_pool2d(x[0], {1}); }),
        make1("5x7 to 3x2 (uneven windows)", {uniform({1, 2, 5, 7}, dt, -2, 2, 2)}, [](const TensorList& x) { return adaptive_avg_pool2d(x[0], {3, 2}); }),
        make1("4x4 to 2x2", {uniform({1, 1, 4, 4}, dt, -2, 2, 3)}, [](const TensorList& x) { return adaptive_avg_pool2d(x[0], {2}); }),
        // 0..4 on 1x5 to 1x3: windows [0,2), [1,4), [3,5)
        make1("hand-computed 1x5 to 1x3", {arange(0, 5).reshape({1, 1, 1, 5}).to(dt)}, [](const TensorList& x) { return adaptive_avg_pool2d(x[0], {1, 3}); })};
      v.back().expected = {{0.5, 2, 3.5}};
      return v;
    },
    .bad = pool_bad, .gradgrad = true}};
// clang-format on

MaxPoolResult max_pool2d_with_indices(const Tensor& x, IntArrayRef kernel_size, const PoolOptions& o) {
  DS_CHECK(x.dim() == 3 || x.dim() == 4, "max_pool2d", "expects input (N, C, H, W) or (C, H, W), got {}", shape_str(x.sizes()));
  if (x.dim() == 3) {
    const MaxPoolResult r = max_pool2d_with_indices(x.unsqueeze(0), kernel_size, o);
    return {r.values.squeeze(0), r.indices.squeeze(0)};
  }
  const std::string_view op = "max_pool2d";
  const Shape k = rules::expand_pair(kernel_size, op);
  const MaxPool2dAttrs attrs{.kernel_size = k,
                             .stride = rules::expand_pair(o.stride.empty() ? IntArrayRef(k) : o.stride, op),
                             .padding = rules::expand_pair(o.padding, op),
                             .dilation = rules::expand_pair(o.dilation, op),
                             .ceil_mode = o.ceil_mode};
  const TensorList r = call_op(OpId::max_pool2d, {x}, attrs);
  return {r[0], r[1]};
}

Tensor max_pool2d(const Tensor& x, IntArrayRef kernel_size, const PoolOptions& o) {
  return max_pool2d_with_indices(x, kernel_size, o).values;
}

// Window sums by a depthwise conv2d with a ones kernel over the zero-padded input (plus the extra right/bottom
// margin ceil_mode's last windows reach), divided by each window's count of counted positions: those inside the
// padded input (count_include_pad) or inside the input itself.
Tensor avg_pool2d(const Tensor& x, IntArrayRef kernel_size, const PoolOptions& o) {
  DS_CHECK(x.dim() == 3 || x.dim() == 4, "avg_pool2d", "expects input (N, C, H, W) or (C, H, W), got {}", shape_str(x.sizes()));
  if (x.dim() == 3) return avg_pool2d(x.unsqueeze(0), kernel_size, o).squeeze(0);
  const std::string_view op = "avg_pool2d";
  const PoolGeometry g = pool_geometry(x, kernel_size, o.stride, o.padding, {1}, o.ceil_mode, op);
  DS_CHECK(is_floating(x.dtype()), op, "expects a floating input, got {}", dtype_name(x.dtype()));
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t extra_h = std::max<int64_t>(0, (g.ho - 1) * g.s[0] + g.k[0] - (H + 2 * g.p[0]));
  const int64_t extra_w = std::max<int64_t>(0, (g.wo - 1) * g.s[1] + g.k[1] - (W + 2 * g.p[1]));
  const TensorOptions opts{.dtype = x.dtype(), .device = x.device()};
  const Tensor kernel = ones({1, 1, g.k[0], g.k[1]}, opts);
  const ConvOptions sum_window{.stride = g.s};
  const Tensor padded = pad(x.reshape({N * C, 1, H, W}), {g.p[1], g.p[1] + extra_w, g.p[0], g.p[0] + extra_h});
  const Tensor sums = conv2d(padded, kernel, {}, sum_window).reshape({N, C, g.ho, g.wo});
  if (o.divisor_override) return sums / static_cast<double>(*o.divisor_override);
  Tensor counted;
  {
    NoGradGuard no_grad;
    const Tensor field = o.count_include_pad ? pad(ones({1, 1, H + 2 * g.p[0], W + 2 * g.p[1]}, opts), {0, extra_w, 0, extra_h})
                                             : pad(ones({1, 1, H, W}, opts), {g.p[1], g.p[1] + extra_w, g.p[0], g.p[0] + extra_h});
    counted = conv2d(field, kernel, {}, sum_window);
  }
  return sums / counted;
}

namespace {
// (out, in) matrix whose row i averages input positions [floor(i in / out), ceil((i + 1) in / out)).
Tensor averaging_matrix(int64_t out, int64_t in, const TensorOptions& opts) {
  std::vector<double> m(static_cast<size_t>(out * in), 0.0);
  for (int64_t i = 0; i < out; ++i) {
    const int64_t lo = (i * in) / out, hi = ((i + 1) * in + out - 1) / out;
    for (int64_t j = lo; j < hi; ++j) m[static_cast<size_t>(i * in + j)] = 1.0 / static_cast<double>(hi - lo);
  }
  return from_vector(m, {out, in}).to(opts.dtype).to(opts.device);
}
}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x, IntArrayRef output_size) {
  const std::string_view op = "adaptive_avg_pool2d";
  DS_CHECK(x.dim() == 3 || x.dim() == 4, op, "expects input (N, C, H, W) or (C, H, W), got {}", shape_str(x.sizes()));
  const Shape out = rules::expand_pair(output_size, op);
  DS_CHECK(out[0] > 0 && out[1] > 0, op, "expects a positive output size, got {}", shape_str(out));
  DS_CHECK(is_floating(x.dtype()), op, "expects a floating input, got {}", dtype_name(x.dtype()));
  const int64_t H = x.size(-2), W = x.size(-1);
  if (out[0] == 1 && out[1] == 1) return mean(x, {-2, -1}, true);
  if (H % out[0] == 0 && W % out[1] == 0) return avg_pool2d(x, {H / out[0], W / out[1]});
  const TensorOptions opts{.dtype = x.dtype(), .device = x.device()};
  return matmul(matmul(averaging_matrix(out[0], H, opts), x), averaging_matrix(out[1], W, opts).t());
}

}  // namespace ds
