#include <ds/nn/linear.h>

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/nn/init.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/linalg.h>

namespace ds::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias)
    : Module("Linear"), in_(in_features), out_(out_features) {
  DS_CHECK(in_features > 0 && out_features > 0, "Linear", "in_features and out_features must be positive, got {} and {}",
           in_features, out_features);
  weight = empty({out_, in_});
  register_parameter("weight", weight);
  if (with_bias) bias = empty({out_});
  register_parameter("bias", bias);
  reset_parameters();
}

// torch's default: kaiming_uniform(a = sqrt(5)) on the weight, i.e. U(-1/sqrt(in), 1/sqrt(in)), and the same
// bound for the bias.
void Linear::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) {
  DS_CHECK(x.dim() >= 1 && x.size(-1) == in_, "Linear", "expects input (..., {}), got {}", in_, shape_str(x.sizes()));
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_, out_, bias.defined() ? "True" : "False");
}

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx)
    : Module("Embedding"), num_(num_embeddings), dim_(embedding_dim), padding_idx_(padding_idx) {
  DS_CHECK(num_ > 0 && dim_ > 0, "Embedding", "sizes must be positive, got {} and {}", num_, dim_);
  if (padding_idx_) {
    if (*padding_idx_ < 0) *padding_idx_ += num_;
    DS_CHECK(*padding_idx_ >= 0 && *padding_idx_ < num_, "Embedding", "padding_idx {} out of range for {} embeddings",
             *padding_idx, num_);
  }
  weight = empty({num_, dim_});
  register_parameter("weight", weight);
  init::normal_(weight);
  if (padding_idx_) {
    NoGradGuard no_grad;
    weight.detach()[*padding_idx_].zero_();
  }
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices, padding_idx_); }

std::string Embedding::extra_repr() const {
  return fmt::format("{}, {}{}", num_, dim_, padding_idx_ ? fmt::format(", padding_idx={}", *padding_idx_) : "");
}

std::string Flatten::extra_repr() const { return fmt::format("start_dim={}, end_dim={}", start_, end_); }

}  // namespace ds::nn
