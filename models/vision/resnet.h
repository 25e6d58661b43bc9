#pragma once
// ResNet (He et al., 2016) exactly as torchvision builds it: resnet18/34 with BasicBlocks, resnet50/101/152 with
// Bottlenecks (stride on the 3x3 conv, "ResNet v1.5"), the last BN of each block initialised to 1 (torchvision's
// default zero_init_residual = false), kaiming_normal (fan_out, relu) conv weights.
//   x: (N, 3, H, W) -> (N, num_classes). ResNet-18: 11,689,512 parameters for 1000 classes.
#include <ds/nn/container.h>
#include <ds/nn/conv.h>
#include <ds/nn/linear.h>
#include <ds/nn/normalization.h>

namespace ds::models {

class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlock(int64_t in, int64_t planes, int64_t stride, std::shared_ptr<nn::Sequential> downsample);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<nn::Sequential> downsample_;
};

class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t in, int64_t planes, int64_t stride, std::shared_ptr<nn::Sequential> downsample);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_, bn3_;
  std::shared_ptr<nn::Sequential> downsample_;
};

class ResNet : public nn::Module {
 public:
  enum class Block { Basic, Bottleneck };
  ResNet(Block block, std::vector<int64_t> layers, int64_t num_classes = 1000);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> make_layer(Block block, int64_t planes, int64_t blocks, int64_t stride);
  int64_t inplanes_ = 64;
  std::shared_ptr<nn::Conv2d> conv1_;
  std::shared_ptr<nn::BatchNorm2d> bn1_;
  std::shared_ptr<nn::Sequential> layer1_, layer2_, layer3_, layer4_;
  std::shared_ptr<nn::Linear> fc_;
};

std::shared_ptr<ResNet> resnet18(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet34(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet50(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet101(int64_t num_classes = 1000);
std::shared_ptr<ResNet> resnet152(int64_t num_classes = 1000);

}  // namespace ds::models
