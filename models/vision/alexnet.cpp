#include <ds/models/vision/alexnet.h>

#include <ds/models/vision/layers.h>
#include <ds/nn/activation.h>
#include <ds/nn/conv.h>
#include <ds/nn/linear.h>
#include <ds/nn/pooling.h>

namespace ds::models {

AlexNet::AlexNet(int64_t num_classes, double dropout) : Module("AlexNet") {
  auto conv = [](int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
    return nn::make<nn::Conv2d>(in, out, Shape{k}, nn::ConvLayerOptions{.stride = {stride}, .padding = {pad}});
  };
  auto pool = [] { return nn::make<nn::MaxPool2d>(Shape{3}, PoolOptions{.stride = {2}}); };
  auto relu = [] { return nn::make<nn::ReLU>(); };
  features_ = register_module("features", nn::make<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      conv(3, 64, 11, 4, 2), relu(), pool(), conv(64, 192, 5, 1, 2), relu(), pool(), conv(192, 384, 3, 1, 1), relu(),
      conv(384, 256, 3, 1, 1), relu(), conv(256, 256, 3, 1, 1), relu(), pool()}));
  avgpool_ = register_module("avgpool", nn::make<nn::AdaptiveAvgPool2d>(Shape{6, 6}));
  classifier_ = register_module("classifier", nn::make<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      nn::make<nn::Dropout>(dropout), nn::make<nn::Linear>(256 * 6 * 6, 4096), relu(), nn::make<nn::Dropout>(dropout),
      nn::make<nn::Linear>(4096, 4096), relu(), nn::make<nn::Linear>(4096, num_classes)}));
}

Tensor AlexNet::forward(const Tensor& x) {
  check_image_input(x, "alexnet", 63);
  // x: (N, 3, H, W) -> features (N, 256, h, w) -> (N, 256, 6, 6) -> (N, 9216) -> (N, classes)
  return (*classifier_)((*avgpool_)((*features_)(x)).flatten(1));
}

std::shared_ptr<AlexNet> alexnet(int64_t num_classes) { return nn::make<AlexNet>(num_classes); }

}  // namespace ds::models
