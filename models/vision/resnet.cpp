#include <ds/models/vision/resnet.h>

#include <ds/models/vision/layers.h>
#include <ds/nn/pooling.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/nn_functional.h>

namespace ds::models {
namespace {
std::shared_ptr<nn::Conv2d> conv3x3(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::make<nn::Conv2d>(in, out, Shape{3}, nn::ConvLayerOptions{.stride = {stride}, .padding = {1}, .bias = false});
}
std::shared_ptr<nn::Conv2d> conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::make<nn::Conv2d>(in, out, Shape{1}, nn::ConvLayerOptions{.stride = {stride}, .bias = false});
}
}  // namespace

BasicBlock::BasicBlock(int64_t in, int64_t planes, int64_t stride, std::shared_ptr<nn::Sequential> downsample)
    : Module("BasicBlock") {
  conv1_ = register_module("conv1", conv3x3(in, planes, stride));
  bn1_ = register_module("bn1", nn::make<nn::BatchNorm2d>(planes));
  conv2_ = register_module("conv2", conv3x3(planes, planes));
  bn2_ = register_module("bn2", nn::make<nn::BatchNorm2d>(planes));
  if (downsample) downsample_ = register_module("downsample", std::move(downsample));
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = relu((*bn1_)((*conv1_)(x)));
  out = (*bn2_)((*conv2_)(out));
  return relu(out + (downsample_ ? (*downsample_)(x) : x));
}

Bottleneck::Bottleneck(int64_t in, int64_t planes, int64_t stride, std::shared_ptr<nn::Sequential> downsample)
    : Module("Bottleneck") {
  conv1_ = register_module("conv1", conv1x1(in, planes));
  bn1_ = register_module("bn1", nn::make<nn::BatchNorm2d>(planes));
  conv2_ = register_module("conv2", conv3x3(planes, planes, stride));
  bn2_ = register_module("bn2", nn::make<nn::BatchNorm2d>(planes));
  conv3_ = register_module("conv3", conv1x1(planes, planes * kExpansion));
  bn3_ = register_module("bn3", nn::make<nn::BatchNorm2d>(planes * kExpansion));
  if (downsample) downsample_ = register_module("downsample", std::move(downsample));
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = relu((*bn1_)((*conv1_)(x)));
  out = relu((*bn2_)((*conv2_)(out)));
  out = (*bn3_)((*conv3_)(out));
  return relu(out + (downsample_ ? (*downsample_)(x) : x));
}

ResNet::ResNet(Block block, std::vector<int64_t> layers, int64_t num_classes) : Module("ResNet") {
  conv1_ = register_module("conv1", nn::make<nn::Conv2d>(3, 64, Shape{7}, nn::ConvLayerOptions{.stride = {2}, .padding = {3}, .bias = false}));
  bn1_ = register_module("bn1", nn::make<nn::BatchNorm2d>(64));
  layer1_ = register_module("layer1", make_layer(block, 64, layers.at(0), 1));
  layer2_ = register_module("layer2", make_layer(block, 128, layers.at(1), 2));
  layer3_ = register_module("layer3", make_layer(block, 256, layers.at(2), 2));
  layer4_ = register_module("layer4", make_layer(block, 512, layers.at(3), 2));
  fc_ = register_module("fc", nn::make<nn::Linear>(512 * (block == Block::Basic ? 1 : 4), num_classes));
  init_convs_kaiming_fan_out(*this);
}

std::shared_ptr<nn::Sequential> ResNet::make_layer(Block block, int64_t planes, int64_t blocks, int64_t stride) {
  const int64_t expansion = block == Block::Basic ? BasicBlock::kExpansion : Bottleneck::kExpansion;
  auto layer = nn::make<nn::Sequential>();
  for (int64_t i = 0; i < blocks; ++i) {
    std::shared_ptr<nn::Sequential> down;
    const int64_t s = i == 0 ? stride : 1;
    if (i == 0 && (stride != 1 || inplanes_ != planes * expansion))
      down = nn::make<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
          conv1x1(inplanes_, planes * expansion, stride), nn::make<nn::BatchNorm2d>(planes * expansion)});
    if (block == Block::Basic) layer->push_back(nn::make<BasicBlock>(inplanes_, planes, s, down));
    else layer->push_back(nn::make<Bottleneck>(inplanes_, planes, s, down));
    inplanes_ = planes * expansion;
  }
  return layer;
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor y = relu((*bn1_)((*conv1_)(x)));
  y = max_pool2d(y, {3}, {.stride = {2}, .padding = {1}});
  y = (*layer4_)((*layer3_)((*layer2_)((*layer1_)(y))));
  return (*fc_)(adaptive_avg_pool2d(y, {1}).flatten(1));
}

std::shared_ptr<ResNet> resnet18(int64_t n) { return nn::make<ResNet>(ResNet::Block::Basic, std::vector<int64_t>{2, 2, 2, 2}, n); }
std::shared_ptr<ResNet> resnet34(int64_t n) { return nn::make<ResNet>(ResNet::Block::Basic, std::vector<int64_t>{3, 4, 6, 3}, n); }
std::shared_ptr<ResNet> resnet50(int64_t n) { return nn::make<ResNet>(ResNet::Block::Bottleneck, std::vector<int64_t>{3, 4, 6, 3}, n); }
std::shared_ptr<ResNet> resnet101(int64_t n) { return nn::make<ResNet>(ResNet::Block::Bottleneck, std::vector<int64_t>{3, 4, 23, 3}, n); }
std::shared_ptr<ResNet> resnet152(int64_t n) { return nn::make<ResNet>(ResNet::Block::Bottleneck, std::vector<int64_t>{3, 8, 36, 3}, n); }

}  // namespace ds::models
