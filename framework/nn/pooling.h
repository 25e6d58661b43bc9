#pragma once
// Pooling layers over (N, C, H, W): MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.
#include <ds/nn/module.h>
#include <ds/ops/nn_functional.h>

namespace ds::nn {

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(IntArrayRef kernel_size, const PoolOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  Shape kernel_;
  PoolOptions o_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(IntArrayRef kernel_size, const PoolOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  Shape kernel_;
  PoolOptions o_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(IntArrayRef output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  Shape size_;
};

}  // namespace ds::nn
