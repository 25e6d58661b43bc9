#pragma once
// Normalisation layers: BatchNorm1d/2d (running statistics, train/eval), LayerNorm, GroupNorm.
#include <ds/nn/module.h>

namespace ds::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

// Training: batch statistics, running_mean/running_var updated, num_batches_tracked counted. Eval: running
// statistics (or batch statistics when track_running_stats is false).
class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 protected:
  BatchNorm(std::string type, int64_t expected_dim_lo, int64_t expected_dim_hi, int64_t num_features,
            const BatchNormOptions& o);

 private:
  int64_t num_features_, dim_lo_, dim_hi_;
  BatchNormOptions o_;
};

// x: (N, C) or (N, C, L).
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, const BatchNormOptions& o = {}) : BatchNorm("BatchNorm1d", 2, 3, num_features, o) {}
};

// x: (N, C, H, W).
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, const BatchNormOptions& o = {}) : BatchNorm("BatchNorm2d", 4, 4, num_features, o) {}
};

// Normalises over the trailing normalized_shape; weight 1, bias 0.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(IntArrayRef normalized_shape, double eps = 1e-5, bool elementwise_affine = true, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias;

 private:
  Shape shape_;
  double eps_;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias;

 private:
  int64_t groups_, channels_;
  double eps_;
};

}  // namespace ds::nn
