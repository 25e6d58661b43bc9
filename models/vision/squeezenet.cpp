#include <ds/models/vision/squeezenet.h>

#include <ds/models/vision/layers.h>
#include <ds/nn/activation.h>
#include <ds/nn/init.h>
#include <ds/nn/pooling.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/shape_ops.h>

namespace ds::models {

Fire::Fire(int64_t in, int64_t squeeze, int64_t expand1x1, int64_t expand3x3) : Module("Fire") {
  squeeze_ = register_module("squeeze", nn::make<nn::Conv2d>(in, squeeze, Shape{1}));
  register_module("squeeze_activation", nn::make<nn::ReLU>());
  expand1x1_ = register_module("expand1x1", nn::make<nn::Conv2d>(squeeze, expand1x1, Shape{1}));
  register_module("expand1x1_activation", nn::make<nn::ReLU>());
  expand3x3_ = register_module("expand3x3", nn::make<nn::Conv2d>(squeeze, expand3x3, Shape{3}, nn::ConvLayerOptions{.padding = {1}}));
  register_module("expand3x3_activation", nn::make<nn::ReLU>());
}

Tensor Fire::forward(const Tensor& x) {
  const Tensor s = relu((*squeeze_)(x));
  return cat({relu((*expand1x1_)(s)), relu((*expand3x3_)(s))}, 1);
}

SqueezeNet::SqueezeNet(Version version, int64_t num_classes, double dropout) : Module("SqueezeNet"), version_(version) {
  using L = std::initializer_list<std::shared_ptr<nn::Module>>;
  auto pool = [] { return nn::make<nn::MaxPool2d>(Shape{3}, PoolOptions{.stride = {2}, .ceil_mode = true}); };
  auto relu = [] { return nn::make<nn::ReLU>(); };
  auto fire = [](int64_t in, int64_t s, int64_t e) { return nn::make<Fire>(in, s, e, e); };
  if (version == Version::V1_0) {
    features_ = nn::make<nn::Sequential>(L{
        nn::make<nn::Conv2d>(3, 96, Shape{7}, nn::ConvLayerOptions{.stride = {2}}), relu(), pool(), fire(96, 16, 64),
        fire(128, 16, 64), fire(128, 32, 128), pool(), fire(256, 32, 128), fire(256, 48, 192), fire(384, 48, 192),
        fire(384, 64, 256), pool(), fire(512, 64, 256)});
  } else {
    features_ = nn::make<nn::Sequential>(L{
        nn::make<nn::Conv2d>(3, 64, Shape{3}, nn::ConvLayerOptions{.stride = {2}}), relu(), pool(), fire(64, 16, 64),
        fire(128, 16, 64), pool(), fire(128, 32, 128), fire(256, 32, 128), pool(), fire(256, 48, 192),
        fire(384, 48, 192), fire(384, 64, 256), fire(512, 64, 256)});
  }
  register_module("features", features_);
  auto final_conv = nn::make<nn::Conv2d>(512, num_classes, Shape{1});
  classifier_ = register_module("classifier", nn::make<nn::Sequential>(L{
      nn::make<nn::Dropout>(dropout), final_conv, relu(), nn::make<nn::AdaptiveAvgPool2d>(Shape{1, 1})}));
  apply([&](nn::Module& m) {
    auto* c = dynamic_cast<nn::Conv2d*>(&m);
    if (!c) return;
    if (c == final_conv.get()) nn::init::normal_(c->weight, 0, 0.01);
    else nn::init::kaiming_uniform_(c->weight);
    nn::init::zeros_(c->bias);
  });
}

Tensor SqueezeNet::forward(const Tensor& x) {
  check_image_input(x, version_ == Version::V1_0 ? "squeezenet1_0" : "squeezenet1_1", version_ == Version::V1_0 ? 21 : 17);
  // x: (N, 3, H, W) -> features (N, 512, h, w) -> (N, classes, h, w) -> (N, classes, 1, 1) -> (N, classes)
  return (*classifier_)((*features_)(x)).flatten(1);
}

std::shared_ptr<SqueezeNet> squeezenet1_0(int64_t n) { return nn::make<SqueezeNet>(SqueezeNet::Version::V1_0, n); }
std::shared_ptr<SqueezeNet> squeezenet1_1(int64_t n) { return nn::make<SqueezeNet>(SqueezeNet::Version::V1_1, n); }

}  // namespace ds::models
