#pragma once
// VGG (Simonyan & Zisserman, 2014) exactly as torchvision builds it: configurations A, B, D, E (11, 13, 16, 19
// weight layers) of 3x3 convs and 2x2 max pools, optionally with BatchNorm2d after each conv, adaptive 7x7 pooling and
// a 4096-4096 classifier; kaiming_normal (fan_out, relu) convs, N(0, 0.01) linears, zero biases.
//   x: (N, 3, H, W), H, W >= 32 -> (N, num_classes). VGG-16: 138,357,544 parameters for 1000 classes.
#include <ds/nn/container.h>

namespace ds::models {

class VGG : public nn::Module {
 public:
  // cfg: output channels of each conv, 0 for a max pool (torchvision's "M").
  VGG(const std::vector<int64_t>& cfg, bool batch_norm, int64_t num_classes = 1000, bool init_weights = true,
      double dropout = 0.5);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> features_, classifier_;
  std::shared_ptr<nn::Module> avgpool_;
};

// init_weights = false keeps torch's per-layer defaults (as torchvision's VGG(init_weights=False)), much faster to
// build: the normal draws of 138M weights take seconds.
std::shared_ptr<VGG> vgg11(int64_t num_classes = 1000, bool init_weights = true);
std::shared_ptr<VGG> vgg11_bn(int64_t num_classes = 1000, bool init_weights = true);
std::shared_ptr<VGG> vgg13(int64_t num_classes = 1000, bool init_weights = true);
std::shared_ptr<VGG> vgg13_bn(int64_t num_classes = 1000, bool init_weights = true);
std::shared_ptr<VGG> vgg16(int64_t num_classes = 1000, bool init_weights = true);
std::shared_ptr<VGG> vgg16_bn(int64_t num_classes = 1000, bool init_weights = true);
std::shared_ptr<VGG> vgg19(int64_t num_classes = 1000, bool init_weights = true);
std::shared_ptr<VGG> vgg19_bn(int64_t num_classes = 1000, bool init_weights = true);

}  // namespace ds::models
