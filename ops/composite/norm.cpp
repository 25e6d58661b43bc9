// Normalisation layers as composites: batch_norm, layer_norm, group_norm. Each normalises with the biased variance
// and applies the affine part as one scale and one shift per channel, so the big tensor sees two elementwise ops.
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {
// Shape (1, C, 1, ...) that broadcasts a per-channel vector over x (N, C, ...).
Shape channel_shape(const Tensor& x) {
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[1] = x.size(1);
  return s;
}
void check_channel_vector(const Tensor& v, int64_t C, std::string_view what, std::string_view op) {
  if (!v.defined()) return;
  DS_CHECK(v.dim() == 1 && v.size(0) == C, op, "{} must have {} elements (one per channel), got shape {}", what, C,
           shape_str(v.sizes()));
}
}  // namespace

// x: (N, C, ...). Training: batch statistics over all dims but 1; running_mean/var (if given) are updated in place
// with the unbiased variance, as torch does. Eval: the running statistics.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  const std::string_view op = "batch_norm";
  DS_CHECK(x.dim() >= 2, op, "expects input (N, C, ...), got {}", shape_str(x.sizes()));
  DS_CHECK(is_floating(x.dtype()), op, "expects a floating input, got {}", dtype_name(x.dtype()));
  const int64_t C = x.size(1);
  check_channel_vector(running_mean, C, "running_mean", op);
  check_channel_vector(running_var, C, "running_var", op);
  check_channel_vector(weight, C, "weight", op);
  check_channel_vector(bias, C, "bias", op);
  Shape dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor mu, var;
  if (training) {
    const int64_t n = x.numel() / std::max<int64_t>(C, 1);
    DS_CHECK(n > 1, op, "needs more than one value per channel when training, got input {}", shape_str(x.sizes()));
    mu = mean(x, dims);
    var = ds::var(x, dims, 0);
    if (running_mean.defined() || running_var.defined()) {
      NoGradGuard no_grad;
      if (running_mean.defined()) running_mean.detach().copy_(running_mean * (1 - momentum) + mu.detach() * momentum);
      if (running_var.defined())
        running_var.detach().copy_(running_var * (1 - momentum) +
                                   var.detach() * (momentum * static_cast<double>(n) / static_cast<double>(n - 1)));
    }
  } else {
    DS_CHECK(running_mean.defined() && running_var.defined(), op, "needs running_mean and running_var in eval mode");
    mu = running_mean;
    var = running_var;
  }
  Tensor scale = rsqrt(var + eps);
  if (weight.defined()) scale = scale * weight;
  Tensor shift = -mu * scale;
  if (bias.defined()) shift = shift + bias;
  const Shape cs = channel_shape(x);
  return x * scale.view(cs) + shift.view(cs);
}

namespace detail {
// layer_norm in ds ops: the reference the fused primitive (ops/defs/layer_norm.cpp) is tested against; the front
// function has checked the shapes.
Tensor layer_norm_math(const Tensor& x, IntArrayRef normalized_shape, const Tensor& weight, const Tensor& bias,
                       double eps) {
  Shape dims;
  for (int64_t i = 0; i < static_cast<int64_t>(normalized_shape.size()); ++i)
    dims.push_back(x.dim() - static_cast<int64_t>(normalized_shape.size()) + i);
  const Tensor mu = mean(x, dims, true);
  const Tensor centered = x - mu;
  Tensor y = centered * rsqrt(mean(square(centered), dims, true) + eps);
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}
}  // namespace detail

// x: (N, C, ...), statistics per sample over each group of C / num_groups channels.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const std::string_view op = "group_norm";
  DS_CHECK(x.dim() >= 2, op, "expects input (N, C, ...), got {}", shape_str(x.sizes()));
  const int64_t N = x.size(0), C = x.size(1);
  DS_CHECK(num_groups > 0 && C % num_groups == 0, op, "{} channels are not divisible into {} groups", C, num_groups);
  check_channel_vector(weight, C, "weight", op);
  check_channel_vector(bias, C, "bias", op);
  const Tensor g = x.reshape({N, num_groups, -1});
  const Tensor centered = g - mean(g, {2}, true);
  Tensor y = (centered * rsqrt(mean(square(centered), {2}, true) + eps)).reshape(x.sizes());
  const Shape cs = channel_shape(x);
  if (weight.defined()) y = y * weight.view(cs);
  if (bias.defined()) y = y + bias.view(cs);
  return y;
}

namespace {
using samples::make1;
using samples::uniform;
Tensor hand_input() { return tensor({{1.0, 3.0}, {5.0, 7.0}}); }
}  // namespace

// clang-format off
DS_COMPOSITE_ROW(batch_norm) OpDef{.name = "batch_norm", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("training (N, C, H, W) with affine", {uniform({3, 2, 2, 3}, dt, -2, 2, 1), uniform({2}, dt, 0.5, 1.5, 2), uniform({2}, dt, -1, 1, 3)},
              [](const TensorList& x) { return batch_norm(x[0], {}, {}, x[1], x[2], true); }),
        make1("eval with running statistics", {uniform({2, 3}, dt, -2, 2, 4), uniform({3}, dt, -1, 1, 5), uniform({3}, dt, 0.5, 2, 6), uniform({3}, dt, 0.5, 1.5, 7)},
              [](const TensorList& x) { return batch_norm(x[0], x[1], x[2], x[3], {}, false); }),
        // columns (1, 5) and (3, 7): mean 3 / 5, biased variance 4: (x - mean) / 2
        make1("hand-computed (N, C)", {hand_input().to(dt)}, [](const TensorList& x) { return batch_norm(x[0], {}, {}, {}, {}, true, 0.1, 0.0); })};
      v.back().expected = {{-1, -1, 1, 1}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{
      samples::bad("weight size", [] { batch_norm(ones({2, 3}), {}, {}, ones({2}), {}, true); }, "weight must have 3 elements"),
      samples::bad("one value per channel", [] { batch_norm(ones({1, 3}), {}, {}, {}, {}, true); }, "more than one value per channel"),
      samples::bad("eval without statistics", [] { batch_norm(ones({2, 3}), {}, {}, {}, {}, false); }, "needs running_mean")}; },
    .gradgrad = true}};
DS_COMPOSITE_ROW(group_norm) OpDef{.name = "group_norm", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("2 groups of 2 channels, affine", {uniform({2, 4, 3}, dt, -2, 2, 1), uniform({4}, dt, 0.5, 1.5, 2), uniform({4}, dt, -1, 1, 3)},
              [](const TensorList& x) { return group_norm(x[0], 2, x[1], x[2]); }),
        make1("1 group (N, C, H, W)", {uniform({1, 2, 2, 2}, dt, -2, 2, 4)}, [](const TensorList& x) { return group_norm(x[0], 1); }),
        make1("hand-computed", {hand_input().to(dt)}, [](const TensorList& x) { return group_norm(x[0], 1, {}, {}, 0.0); })};
      v.back().expected = {{-1, 1, -1, 1}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{samples::bad("groups", [] { group_norm(ones({2, 3}), 2); }, "not divisible into 2 groups")}; },
    .gradgrad = true}};
// clang-format on

}  // namespace ds
