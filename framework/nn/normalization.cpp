#include <ds/nn/normalization.h>

#include <ds/autograd/checkpoint.h>
#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>
#include <ds/ops/nn_functional.h>

namespace ds::nn {

BatchNorm::BatchNorm(std::string type, int64_t dim_lo, int64_t dim_hi, int64_t num_features, const BatchNormOptions& o)
    : Module(std::move(type)), num_features_(num_features), dim_lo_(dim_lo), dim_hi_(dim_hi), o_(o) {
  DS_CHECK(num_features > 0, type_name(), "num_features must be positive, got {}", num_features);
  if (o.affine) {
    weight = ones({num_features});
    bias = zeros({num_features});
  }
  register_parameter("weight", weight);
  register_parameter("bias", bias);
  if (o.track_running_stats) {
    running_mean = zeros({num_features});
    running_var = ones({num_features});
    num_batches_tracked = zeros({}, {.dtype = kI64});
  }
  register_buffer("running_mean", running_mean);
  register_buffer("running_var", running_var);
  register_buffer("num_batches_tracked", num_batches_tracked);
}

Tensor BatchNorm::forward(const Tensor& x) {
  DS_CHECK(x.dim() >= dim_lo_ && x.dim() <= dim_hi_, type_name(), "expects a {}-d input{}, got {}", dim_lo_,
           dim_hi_ != dim_lo_ ? fmt::format(" or {}-d", dim_hi_) : "", shape_str(x.sizes()));
  DS_CHECK(x.size(1) == num_features_, type_name(), "expects {} channels, got input {}", num_features_,
           shape_str(x.sizes()));
  if (is_training()) {
    // A checkpoint recomputing this forward during backward: same batch statistics, but the running ones were
    // already updated by the forward pass.
    if (is_checkpoint_recomputing()) return batch_norm(x, {}, {}, weight, bias, true, o_.momentum, o_.eps);
    if (num_batches_tracked.defined()) {
      NoGradGuard no_grad;
      num_batches_tracked.add_(1);
    }
    return batch_norm(x, running_mean, running_var, weight, bias, true, o_.momentum, o_.eps);
  }
  if (!running_mean.defined()) return batch_norm(x, {}, {}, weight, bias, true, o_.momentum, o_.eps);
  return batch_norm(x, running_mean, running_var, weight, bias, false, o_.momentum, o_.eps);
}

std::string BatchNorm::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", num_features_, o_.eps, o_.momentum,
                     o_.affine ? "True" : "False", o_.track_running_stats ? "True" : "False");
}

LayerNorm::LayerNorm(IntArrayRef normalized_shape, double eps, bool affine, bool with_bias)
    : Module("LayerNorm"), shape_(normalized_shape.begin(), normalized_shape.end()), eps_(eps) {
  DS_CHECK(!shape_.empty(), "LayerNorm", "normalized_shape must not be empty");
  if (affine) {
    weight = ones(shape_);
    if (with_bias) bias = zeros(shape_);
  }
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, shape_, weight, bias, eps_); }

std::string LayerNorm::extra_repr() const {
  std::string s = "(";
  for (size_t i = 0; i < shape_.size(); ++i) s += (i ? ", " : "") + std::to_string(shape_[i]);
  return fmt::format("{}{}, eps={}, elementwise_affine={}", s, shape_.size() == 1 ? ",)" : ")", eps_,
                     weight.defined() ? "True" : "False");
}

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, double eps, bool affine)
    : Module("GroupNorm"), groups_(num_groups), channels_(num_channels), eps_(eps) {
  DS_CHECK(num_groups > 0 && num_channels % num_groups == 0, "GroupNorm",
           "num_channels {} must be divisible by num_groups {}", num_channels, num_groups);
  if (affine) {
    weight = ones({num_channels});
    bias = zeros({num_channels});
  }
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Tensor GroupNorm::forward(const Tensor& x) {
  DS_CHECK(x.dim() >= 2 && x.size(1) == channels_, "GroupNorm", "expects input (N, {}, ...), got {}", channels_,
           shape_str(x.sizes()));
  return group_norm(x, groups_, weight, bias, eps_);
}

std::string GroupNorm::extra_repr() const {
  return fmt::format("{}, {}, eps={}, affine={}", groups_, channels_, eps_, weight.defined() ? "True" : "False");
}

}  // namespace ds::nn
