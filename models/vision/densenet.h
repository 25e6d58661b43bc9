#pragma once
// DenseNet-BC (Huang et al., 2017) exactly as torchvision builds it: dense blocks of BN-ReLU-1x1 conv-BN-ReLU-3x3 conv
// layers whose outputs are concatenated, transitions (BN-ReLU-1x1 conv-2x2 average pool) halving the channels;
// kaiming_normal convs, zero linear bias. x: (N, 3, H, W), H, W >= 29 -> (N, num_classes).
// DenseNet-121: 7,978,856 parameters for 1000 classes.
#include <ds/nn/container.h>
#include <ds/nn/conv.h>
#include <ds/nn/normalization.h>

namespace ds::models {

// prev: the block's input and every earlier layer's output, (N, C_i, H, W) each -> (N, growth_rate, H, W).
class DenseLayer : public nn::Module {
 public:
  DenseLayer(int64_t in, int64_t growth_rate, int64_t bn_size, double drop_rate);
  Tensor forward(const std::vector<Tensor>& prev);
  Tensor forward(const Tensor& x) override { return forward(std::vector<Tensor>{x}); }

 private:
  std::shared_ptr<nn::BatchNorm2d> norm1_, norm2_;
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  double drop_rate_;
};

// x: (N, in, H, W) -> (N, in + num_layers * growth_rate, H, W)
class DenseBlock : public nn::Module {
 public:
  DenseBlock(int64_t num_layers, int64_t in, int64_t bn_size, int64_t growth_rate, double drop_rate);
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<std::shared_ptr<DenseLayer>> layers_;
};

struct DenseNetConfig {
  int64_t growth_rate = 32;
  std::vector<int64_t> block_config{6, 12, 24, 16};
  int64_t num_init_features = 64;
  int64_t bn_size = 4;
  double drop_rate = 0;
};

class DenseNet : public nn::Module {
 public:
  explicit DenseNet(const DenseNetConfig& config = {}, int64_t num_classes = 1000);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> features_;
  std::shared_ptr<nn::Module> classifier_;
};

std::shared_ptr<DenseNet> densenet121(int64_t num_classes = 1000);

}  // namespace ds::models
