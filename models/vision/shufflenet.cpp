#include <ds/models/vision/shufflenet.h>

#include <ds/core/detail/check.h>
#include <ds/models/vision/layers.h>
#include <ds/nn/activation.h>
#include <ds/nn/linear.h>
#include <ds/nn/pooling.h>
#include <ds/ops/shape_ops.h>

namespace ds::models {
namespace {
std::shared_ptr<nn::Conv2d> conv1x1(int64_t in, int64_t out) {
  return nn::make<nn::Conv2d>(in, out, Shape{1}, nn::ConvLayerOptions{.bias = false});
}
std::shared_ptr<nn::Conv2d> depthwise3x3(int64_t channels, int64_t stride) {
  return nn::make<nn::Conv2d>(channels, channels, Shape{3},
                              nn::ConvLayerOptions{.stride = {stride}, .padding = {1}, .groups = channels, .bias = false});
}
std::shared_ptr<nn::BatchNorm2d> bn(int64_t c) { return nn::make<nn::BatchNorm2d>(c); }
std::shared_ptr<nn::ReLU> relu() { return nn::make<nn::ReLU>(); }
}  // namespace

ShuffleUnit::ShuffleUnit(int64_t in, int64_t out, int64_t stride) : Module("InvertedResidual"), stride_(stride) {
  using L = std::initializer_list<std::shared_ptr<nn::Module>>;
  DS_CHECK(stride >= 1 && stride <= 3, "ShuffleNetV2", "illegal stride {}", stride);
  const int64_t branch = out / 2;
  DS_CHECK(stride > 1 || in == branch * 2, "ShuffleNetV2",
           "a stride-1 unit needs in_channels ({}) equal to out_channels ({}) rounded down to even", in, out);
  branch1_ = register_module("branch1", stride > 1 ? nn::make<nn::Sequential>(L{depthwise3x3(in, stride), bn(in),
                                                                                 conv1x1(in, branch), bn(branch), relu()})
                                                   : nn::make<nn::Sequential>());
  branch2_ = register_module("branch2", nn::make<nn::Sequential>(L{
      conv1x1(stride > 1 ? in : branch, branch), bn(branch), relu(), depthwise3x3(branch, stride), bn(branch),
      conv1x1(branch, branch), bn(branch), relu()}));
}

Tensor ShuffleUnit::forward(const Tensor& x) {
  Tensor out;
  if (stride_ == 1) {
    // x: (N, 2b, H, W): the first half passes through, the second goes through branch2.
    const auto halves = chunk(x, 2, 1);
    out = cat({halves[0], (*branch2_)(halves[1])}, 1);
  } else {
    out = cat({(*branch1_)(x), (*branch2_)(x)}, 1);
  }
  return channel_shuffle(out, 2);
}

ShuffleNetV2::ShuffleNetV2(const std::vector<int64_t>& repeats, const std::vector<int64_t>& channels, int64_t num_classes)
    : Module("ShuffleNetV2") {
  using L = std::initializer_list<std::shared_ptr<nn::Module>>;
  DS_CHECK(repeats.size() == 3, "ShuffleNetV2", "expected stages_repeats of 3 positive ints, got {}", repeats.size());
  DS_CHECK(channels.size() == 5, "ShuffleNetV2", "expected stages_out_channels of 5 positive ints, got {}", channels.size());
  conv1_ = register_module("conv1", nn::make<nn::Sequential>(L{
      nn::make<nn::Conv2d>(3, channels[0], Shape{3}, nn::ConvLayerOptions{.stride = {2}, .padding = {1}, .bias = false}),
      bn(channels[0]), relu()}));
  maxpool_ = register_module("maxpool", nn::make<nn::MaxPool2d>(Shape{3}, PoolOptions{.stride = {2}, .padding = {1}}));
  int64_t in = channels[0];
  std::shared_ptr<nn::Sequential>* stages[3] = {&stage2_, &stage3_, &stage4_};
  for (size_t s = 0; s < 3; ++s) {
    auto stage = nn::make<nn::Sequential>();
    stage->push_back(nn::make<ShuffleUnit>(in, channels[s + 1], 2));
    for (int64_t i = 1; i < repeats[s]; ++i) stage->push_back(nn::make<ShuffleUnit>(channels[s + 1], channels[s + 1], 1));
    *stages[s] = register_module("stage" + std::to_string(s + 2), stage);
    in = channels[s + 1];
  }
  conv5_ = register_module("conv5", nn::make<nn::Sequential>(L{conv1x1(in, channels[4]), bn(channels[4]), relu()}));
  fc_ = register_module("fc", nn::make<nn::Linear>(channels[4], num_classes));
}

Tensor ShuffleNetV2::forward(const Tensor& x) {
  check_image_input(x, "shufflenet_v2", 1);
  // x: (N, 3, H, W) -> (N, 24, H/4, W/4) -> stages (N, 464, H/32, W/32) -> (N, 1024, ...) -> mean (N, 1024) -> classes
  Tensor y = (*maxpool_)((*conv1_)(x));
  y = (*conv5_)((*stage4_)((*stage3_)((*stage2_)(y))));
  return (*fc_)(y.mean({2, 3}));
}

std::shared_ptr<ShuffleNetV2> shufflenet_v2_x1_0(int64_t num_classes) {
  return nn::make<ShuffleNetV2>(std::vector<int64_t>{4, 8, 4}, std::vector<int64_t>{24, 116, 232, 464, 1024}, num_classes);
}

}  // namespace ds::models
