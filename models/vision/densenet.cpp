#include <ds/models/vision/densenet.h>

#include <ds/models/vision/layers.h>
#include <ds/nn/activation.h>
#include <ds/nn/init.h>
#include <ds/nn/linear.h>
#include <ds/nn/pooling.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/shape_ops.h>

namespace ds::models {
namespace {
std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t padding = 0) {
  return nn::make<nn::Conv2d>(in, out, Shape{k}, nn::ConvLayerOptions{.stride = {stride}, .padding = {padding}, .bias = false});
}
}  // namespace

DenseLayer::DenseLayer(int64_t in, int64_t growth_rate, int64_t bn_size, double drop_rate)
    : Module("_DenseLayer"), drop_rate_(drop_rate) {
  norm1_ = register_module("norm1", nn::make<nn::BatchNorm2d>(in));
  register_module("relu1", nn::make<nn::ReLU>());
  conv1_ = register_module("conv1", conv(in, bn_size * growth_rate, 1));
  norm2_ = register_module("norm2", nn::make<nn::BatchNorm2d>(bn_size * growth_rate));
  register_module("relu2", nn::make<nn::ReLU>());
  conv2_ = register_module("conv2", conv(bn_size * growth_rate, growth_rate, 3, 1, 1));
}

Tensor DenseLayer::forward(const std::vector<Tensor>& prev) {
  // cat(prev): (N, sum C_i, H, W) -> bottleneck (N, bn_size * growth, H, W) -> (N, growth, H, W)
  const Tensor bottleneck = (*conv1_)(relu((*norm1_)(prev.size() == 1 ? prev[0] : cat(prev, 1))));
  Tensor out = (*conv2_)(relu((*norm2_)(bottleneck)));
  if (drop_rate_ > 0) out = dropout(out, drop_rate_, is_training());
  return out;
}

DenseBlock::DenseBlock(int64_t num_layers, int64_t in, int64_t bn_size, int64_t growth_rate, double drop_rate)
    : Module("_DenseBlock") {
  for (int64_t i = 0; i < num_layers; ++i)
    layers_.push_back(register_module("denselayer" + std::to_string(i + 1),
                                      nn::make<DenseLayer>(in + i * growth_rate, growth_rate, bn_size, drop_rate)));
}

Tensor DenseBlock::forward(const Tensor& x) {
  std::vector<Tensor> features{x};
  for (const auto& layer : layers_) {
    nn::ModuleScope scope(*layer);
    features.push_back(layer->forward(features));
  }
  return cat(features, 1);
}

DenseNet::DenseNet(const DenseNetConfig& c, int64_t num_classes) : Module("DenseNet") {
  features_ = register_module("features", nn::make<nn::Sequential>());
  features_->push_back("conv0", conv(3, c.num_init_features, 7, 2, 3));
  features_->push_back("norm0", nn::make<nn::BatchNorm2d>(c.num_init_features));
  features_->push_back("relu0", nn::make<nn::ReLU>());
  features_->push_back("pool0", nn::make<nn::MaxPool2d>(Shape{3}, PoolOptions{.stride = {2}, .padding = {1}}));
  int64_t n = c.num_init_features;
  for (size_t i = 0; i < c.block_config.size(); ++i) {
    const int64_t layers = c.block_config[i];
    features_->push_back("denseblock" + std::to_string(i + 1),
                         nn::make<DenseBlock>(layers, n, c.bn_size, c.growth_rate, c.drop_rate));
    n += layers * c.growth_rate;
    if (i + 1 == c.block_config.size()) break;
    auto transition = nn::make<nn::Sequential>();
    transition->push_back("norm", nn::make<nn::BatchNorm2d>(n));
    transition->push_back("relu", nn::make<nn::ReLU>());
    transition->push_back("conv", conv(n, n / 2, 1));
    transition->push_back("pool", nn::make<nn::AvgPool2d>(Shape{2}, PoolOptions{.stride = {2}}));
    features_->push_back("transition" + std::to_string(i + 1), transition);
    n /= 2;
  }
  features_->push_back("norm5", nn::make<nn::BatchNorm2d>(n));
  auto fc = nn::make<nn::Linear>(n, num_classes);
  classifier_ = register_module("classifier", fc);
  apply([](nn::Module& m) {
    if (auto* cv = dynamic_cast<nn::Conv2d*>(&m)) nn::init::kaiming_normal_(cv->weight);
  });
  nn::init::zeros_(fc->bias);
}

Tensor DenseNet::forward(const Tensor& x) {
  check_image_input(x, "densenet", 29);
  // x: (N, 3, H, W) -> features (N, 1024, H/32, W/32) -> (N, 1024) -> (N, classes)
  return (*classifier_)(adaptive_avg_pool2d(relu((*features_)(x)), {1}).flatten(1));
}

std::shared_ptr<DenseNet> densenet121(int64_t num_classes) { return nn::make<DenseNet>(DenseNetConfig{}, num_classes); }

}  // namespace ds::models
