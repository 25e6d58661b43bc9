#include <ds/models/vision/mobilenet.h>

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/nn/activation.h>
#include <ds/nn/linear.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/nn_functional.h>

namespace ds::models {

InvertedResidual::InvertedResidual(int64_t in, int64_t out, int64_t stride, int64_t expand_ratio)
    : Module("InvertedResidual"), use_res_connect_(stride == 1 && in == out) {
  DS_CHECK(stride == 1 || stride == 2, "InvertedResidual", "stride must be 1 or 2, got {}", stride);
  const int64_t hidden = in * expand_ratio;
  conv_ = register_module("conv", nn::make<nn::Sequential>());
  if (expand_ratio != 1)
    conv_->push_back(conv_norm_act(in, hidden, {.kernel = {1}, .activation = Activation::ReLU6}));
  conv_->push_back(conv_norm_act(hidden, hidden, {.stride = stride, .groups = hidden, .activation = Activation::ReLU6}));
  conv_->push_back(nn::make<nn::Conv2d>(hidden, out, Shape{1}, nn::ConvLayerOptions{.bias = false}));
  conv_->push_back(nn::make<nn::BatchNorm2d>(out));
}

Tensor InvertedResidual::forward(const Tensor& x) { return use_res_connect_ ? x + (*conv_)(x) : (*conv_)(x); }

MobileNetV2::MobileNetV2(int64_t num_classes, double width_mult, int64_t round_nearest, double dropout)
    : Module("MobileNetV2") {
  DS_CHECK(width_mult > 0 && round_nearest > 0, "mobilenet_v2", "width_mult ({}) and round_nearest ({}) must be positive",
           width_mult, round_nearest);
  // t (expansion), c (channels), n (repeats), s (stride of the first)
  const int64_t setting[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                 {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int64_t in = make_divisible(32 * width_mult, round_nearest);
  const int64_t last = make_divisible(1280 * std::max(1.0, width_mult), round_nearest);
  features_ = register_module("features", nn::make<nn::Sequential>());
  features_->push_back(conv_norm_act(3, in, {.stride = 2, .activation = Activation::ReLU6}));
  for (const auto& [t, c, n, s] : setting) {
    const int64_t out = make_divisible(static_cast<double>(c) * width_mult, round_nearest);
    for (int64_t i = 0; i < n; ++i) {
      features_->push_back(nn::make<InvertedResidual>(in, out, i == 0 ? s : 1, t));
      in = out;
    }
  }
  features_->push_back(conv_norm_act(in, last, {.kernel = {1}, .activation = Activation::ReLU6}));
  classifier_ = register_module("classifier", nn::make<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      nn::make<nn::Dropout>(dropout), nn::make<nn::Linear>(last, num_classes)}));
  init_convs_kaiming_fan_out(*this);
  init_linears_normal(*this, 0.01);
}

Tensor MobileNetV2::forward(const Tensor& x) {
  check_image_input(x, "mobilenet_v2", 1);
  // x: (N, 3, H, W) -> features (N, 1280, H/32, W/32) -> (N, 1280) -> (N, classes)
  return (*classifier_)(adaptive_avg_pool2d((*features_)(x), {1}).flatten(1));
}

std::shared_ptr<MobileNetV2> mobilenet_v2(int64_t num_classes, double width_mult) {
  return nn::make<MobileNetV2>(num_classes, width_mult);
}

}  // namespace ds::models
