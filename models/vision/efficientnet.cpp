#include <ds/models/vision/efficientnet.h>

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/nn/activation.h>
#include <ds/nn/init.h>
#include <ds/nn/linear.h>
#include <ds/nn/pooling.h>
#include <ds/ops/elementwise.h>

namespace ds::models {

MBConvConfig MBConvConfig::scaled(double expand_ratio, int64_t kernel, int64_t stride, int64_t in, int64_t out,
                                  int64_t num_layers, double width_mult, double depth_mult) {
  return {expand_ratio, kernel, stride, make_divisible(static_cast<double>(in) * width_mult, 8),
          make_divisible(static_cast<double>(out) * width_mult, 8),
          static_cast<int64_t>(std::ceil(static_cast<double>(num_layers) * depth_mult))};
}

MBConv::MBConv(const MBConvConfig& c, double stochastic_depth_prob)
    : Module("MBConv"), use_res_connect_(c.stride == 1 && c.in == c.out) {
  DS_CHECK(c.stride == 1 || c.stride == 2, "MBConv", "illegal stride {}", c.stride);
  const int64_t expanded = make_divisible(static_cast<double>(c.in) * c.expand_ratio, 8);
  block_ = register_module("block", nn::make<nn::Sequential>());
  if (expanded != c.in) block_->push_back(conv_norm_act(c.in, expanded, {.kernel = {1}, .activation = Activation::SiLU}));
  block_->push_back(conv_norm_act(
      expanded, expanded, {.kernel = {c.kernel}, .stride = c.stride, .groups = expanded, .activation = Activation::SiLU}));
  block_->push_back(nn::make<SqueezeExcitation>(expanded, std::max<int64_t>(1, c.in / 4), Activation::SiLU));
  block_->push_back(conv_norm_act(expanded, c.out, {.kernel = {1}, .activation = Activation::None}));
  stochastic_depth_ = register_module("stochastic_depth", nn::make<StochasticDepth>(stochastic_depth_prob, "row"));
}

Tensor MBConv::forward(const Tensor& x) {
  const Tensor y = (*block_)(x);
  return use_res_connect_ ? (*stochastic_depth_)(y) + x : y;
}

EfficientNet::EfficientNet(const std::vector<MBConvConfig>& setting, double dropout, double stochastic_depth_prob,
                           int64_t num_classes)
    : Module("EfficientNet") {
  DS_CHECK(!setting.empty(), "EfficientNet", "the inverted residual setting must not be empty");
  features_ = register_module("features", nn::make<nn::Sequential>());
  features_->push_back(conv_norm_act(3, setting.front().in, {.stride = 2, .activation = Activation::SiLU}));
  int64_t total_blocks = 0;
  for (const MBConvConfig& c : setting) total_blocks += c.num_layers;
  int64_t block_id = 0;
  for (const MBConvConfig& c : setting) {
    auto stage = nn::make<nn::Sequential>();
    for (int64_t i = 0; i < c.num_layers; ++i, ++block_id) {
      MBConvConfig b = c;
      if (i > 0) b.in = b.out, b.stride = 1;
      // The drop probability grows linearly with the block's position in the whole network.
      const double sd = stochastic_depth_prob * static_cast<double>(block_id) / static_cast<double>(total_blocks);
      stage->push_back(nn::make<MBConv>(b, sd));
    }
    features_->push_back(stage);
  }
  const int64_t last_in = setting.back().out, last_out = 4 * last_in;
  features_->push_back(conv_norm_act(last_in, last_out, {.kernel = {1}, .activation = Activation::SiLU}));
  avgpool_ = register_module("avgpool", nn::make<nn::AdaptiveAvgPool2d>(Shape{1}));
  classifier_ = register_module("classifier", nn::make<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      nn::make<nn::Dropout>(dropout), nn::make<nn::Linear>(last_out, num_classes)}));
  init_convs_kaiming_fan_out(*this);
  apply([](nn::Module& m) {
    if (auto* fc = dynamic_cast<nn::Linear*>(&m)) {
      const double range = 1.0 / std::sqrt(static_cast<double>(fc->weight.size(0)));
      nn::init::uniform_(fc->weight, -range, range);
      nn::init::zeros_(fc->bias);
    }
  });
}

Tensor EfficientNet::forward(const Tensor& x) {
  check_image_input(x, "efficientnet", 1);
  // x: (N, 3, H, W) -> features (N, 1280, H/32, W/32) -> (N, 1280) -> (N, classes)
  return (*classifier_)((*avgpool_)((*features_)(x)).flatten(1));
}

std::shared_ptr<EfficientNet> efficientnet_b0(int64_t num_classes, double stochastic_depth_prob) {
  auto c = [](double t, int64_t k, int64_t s, int64_t in, int64_t out, int64_t n) {
    return MBConvConfig::scaled(t, k, s, in, out, n, 1.0, 1.0);
  };
  const std::vector<MBConvConfig> setting{c(1, 3, 1, 32, 16, 1),  c(6, 3, 2, 16, 24, 2),   c(6, 5, 2, 24, 40, 2),
                                          c(6, 3, 2, 40, 80, 3),  c(6, 5, 1, 80, 112, 3),  c(6, 5, 2, 112, 192, 4),
                                          c(6, 3, 1, 192, 320, 1)};
  return nn::make<EfficientNet>(setting, 0.2, stochastic_depth_prob, num_classes);
}

}  // namespace ds::models
