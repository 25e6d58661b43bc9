#include <ds/models/vision/vgg.h>

#include <ds/models/vision/layers.h>
#include <ds/nn/activation.h>
#include <ds/nn/linear.h>
#include <ds/nn/pooling.h>

namespace ds::models {
namespace {
// torchvision's cfgs "A", "B", "D", "E"; 0 is a max pool.
const std::vector<int64_t> kA{64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
const std::vector<int64_t> kB{64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
const std::vector<int64_t> kD{64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
const std::vector<int64_t> kE{64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0};

std::shared_ptr<nn::Sequential> make_layers(const std::vector<int64_t>& cfg, bool batch_norm) {
  auto layers = nn::make<nn::Sequential>();
  int64_t in = 3;
  for (int64_t v : cfg) {
    if (v == 0) {
      layers->push_back(nn::make<nn::MaxPool2d>(Shape{2}, PoolOptions{.stride = {2}}));
      continue;
    }
    layers->push_back(nn::make<nn::Conv2d>(in, v, Shape{3}, nn::ConvLayerOptions{.padding = {1}}));
    if (batch_norm) layers->push_back(nn::make<nn::BatchNorm2d>(v));
    layers->push_back(nn::make<nn::ReLU>());
    in = v;
  }
  return layers;
}
}  // namespace

VGG::VGG(const std::vector<int64_t>& cfg, bool batch_norm, int64_t num_classes, bool init_weights, double dropout)
    : Module("VGG") {
  features_ = register_module("features", make_layers(cfg, batch_norm));
  avgpool_ = register_module("avgpool", nn::make<nn::AdaptiveAvgPool2d>(Shape{7, 7}));
  classifier_ = register_module("classifier", nn::make<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      nn::make<nn::Linear>(512 * 7 * 7, 4096), nn::make<nn::ReLU>(), nn::make<nn::Dropout>(dropout),
      nn::make<nn::Linear>(4096, 4096), nn::make<nn::ReLU>(), nn::make<nn::Dropout>(dropout),
      nn::make<nn::Linear>(4096, num_classes)}));
  if (!init_weights) return;
  init_convs_kaiming_fan_out(*this);
  init_linears_normal(*this, 0.01);
}

Tensor VGG::forward(const Tensor& x) {
  check_image_input(x, "vgg", 32);
  // x: (N, 3, H, W) -> features (N, 512, H/32, W/32) -> (N, 512, 7, 7) -> (N, 25088) -> (N, classes)
  return (*classifier_)((*avgpool_)((*features_)(x)).flatten(1));
}

std::shared_ptr<VGG> vgg11(int64_t n, bool init) { return nn::make<VGG>(kA, false, n, init); }
std::shared_ptr<VGG> vgg11_bn(int64_t n, bool init) { return nn::make<VGG>(kA, true, n, init); }
std::shared_ptr<VGG> vgg13(int64_t n, bool init) { return nn::make<VGG>(kB, false, n, init); }
std::shared_ptr<VGG> vgg13_bn(int64_t n, bool init) { return nn::make<VGG>(kB, true, n, init); }
std::shared_ptr<VGG> vgg16(int64_t n, bool init) { return nn::make<VGG>(kD, false, n, init); }
std::shared_ptr<VGG> vgg16_bn(int64_t n, bool init) { return nn::make<VGG>(kD, true, n, init); }
std::shared_ptr<VGG> vgg19(int64_t n, bool init) { return nn::make<VGG>(kE, false, n, init); }
std::shared_ptr<VGG> vgg19_bn(int64_t n, bool init) { return nn::make<VGG>(kE, true, n, init); }

}  // namespace ds::models
