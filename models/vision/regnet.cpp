#include <ds/models/vision/regnet.h>

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/nn/activation.h>
#include <ds/nn/linear.h>
#include <ds/nn/pooling.h>
#include <ds/ops/elementwise.h>

namespace ds::models {

RegNetParams RegNetParams::from_init_params(int64_t depth, int64_t w_0, double w_a, double w_m, int64_t group_width,
                                            double bottleneck_multiplier, double se_ratio) {
  DS_CHECK(w_a >= 0 && w_0 > 0 && w_m > 1 && w_0 % 8 == 0, "RegNet",
           "invalid settings: need w_a >= 0, w_0 > 0 and a multiple of 8, w_m > 1; got w_0={}, w_a={}, w_m={}", w_0,
           w_a, w_m);
  constexpr int64_t kQuant = 8;
  // float32 throughout, as torch computes these on float tensors (std::nearbyint rounds half to even like torch.round).
  std::vector<int64_t> block_widths;
  const auto w0 = static_cast<float>(w_0), wm = static_cast<float>(w_m);
  const auto log_wm = static_cast<float>(std::log(w_m));
  for (int64_t i = 0; i < depth; ++i) {
    const float cont = static_cast<float>(i) * static_cast<float>(w_a) + w0;
    const float capacity = std::nearbyint(std::log(cont / w0) / log_wm);
    block_widths.push_back(static_cast<int64_t>(std::nearbyint(w0 * std::pow(wm, capacity) / kQuant)) * kQuant);
  }
  RegNetParams p;
  p.se_ratio = se_ratio;
  // A stage starts wherever the width changes.
  std::vector<int64_t> starts;
  for (int64_t i = 0; i <= depth; ++i) {
    const int64_t w = i < depth ? block_widths[i] : 0, prev = i > 0 ? block_widths[i - 1] : 0;
    if (w != prev) starts.push_back(i);
  }
  for (size_t s = 0; s + 1 < starts.size(); ++s) {
    const int64_t w = block_widths[starts[s]];
    // torchvision's _adjust_widths_groups_compatibilty: the bottleneck width a multiple of the group width.
    const auto w_bot = static_cast<int64_t>(static_cast<double>(w) * bottleneck_multiplier);
    const int64_t g = std::min(group_width, w_bot);
    p.widths.push_back(static_cast<int64_t>(static_cast<double>(make_divisible(static_cast<double>(w_bot), g)) /
                                            bottleneck_multiplier));
    p.depths.push_back(starts[s + 1] - starts[s]);
    p.group_widths.push_back(g);
    p.strides.push_back(2);
    p.bottleneck_multipliers.push_back(bottleneck_multiplier);
  }
  return p;
}

ResBottleneckBlock::ResBottleneckBlock(int64_t in, int64_t out, int64_t stride, int64_t group_width,
                                       double bottleneck_multiplier, double se_ratio)
    : Module("ResBottleneckBlock") {
  if (in != out || stride != 1)
    proj_ = register_module("proj", conv_norm_act(in, out, {.kernel = {1}, .stride = stride, .activation = Activation::None}));
  const auto w_b = static_cast<int64_t>(std::nearbyint(static_cast<double>(out) * bottleneck_multiplier));
  f_ = register_module("f", nn::make<nn::Sequential>());
  f_->push_back("a", conv_norm_act(in, w_b, {.kernel = {1}}));
  f_->push_back("b", conv_norm_act(w_b, w_b, {.stride = stride, .groups = w_b / group_width}));
  if (se_ratio > 0)
    f_->push_back("se", nn::make<SqueezeExcitation>(
                            w_b, static_cast<int64_t>(std::nearbyint(se_ratio * static_cast<double>(in))), Activation::ReLU));
  f_->push_back("c", conv_norm_act(w_b, out, {.kernel = {1}, .activation = Activation::None}));
  register_module("activation", nn::make<nn::ReLU>());
}

Tensor ResBottleneckBlock::forward(const Tensor& x) { return relu((proj_ ? (*proj_)(x) : x) + (*f_)(x)); }

RegNet::RegNet(const RegNetParams& p, int64_t num_classes, int64_t stem_width) : Module("RegNet") {
  stem_ = register_module("stem", conv_norm_act(3, stem_width, {.stride = 2}));
  trunk_output_ = register_module("trunk_output", nn::make<nn::Sequential>());
  int64_t width = stem_width;
  for (size_t s = 0; s < p.widths.size(); ++s) {
    auto stage = nn::make<nn::Sequential>();  // torchvision's AnyStage
    for (int64_t i = 0; i < p.depths[s]; ++i)
      stage->push_back(fmt::format("block{}-{}", s + 1, i),
                       nn::make<ResBottleneckBlock>(i == 0 ? width : p.widths[s], p.widths[s], i == 0 ? p.strides[s] : 1,
                                                    p.group_widths[s], p.bottleneck_multipliers[s], p.se_ratio));
    trunk_output_->push_back("block" + std::to_string(s + 1), stage);
    width = p.widths[s];
  }
  avgpool_ = register_module("avgpool", nn::make<nn::AdaptiveAvgPool2d>(Shape{1, 1}));
  fc_ = register_module("fc", nn::make<nn::Linear>(width, num_classes));
  // torchvision draws N(0, sqrt(2 / fan_out)), fan_out = kh * kw * out_channels: kaiming_normal (fan_out).
  init_convs_kaiming_fan_out(*this);
  init_linears_normal(*this, 0.01);
}

Tensor RegNet::forward(const Tensor& x) {
  check_image_input(x, "regnet", 1);
  // x: (N, 3, H, W) -> stem (N, 32, H/2, W/2) -> trunk (N, 440, H/32, W/32) -> (N, 440) -> (N, classes)
  return (*fc_)((*avgpool_)((*trunk_output_)((*stem_)(x))).flatten(1));
}

std::shared_ptr<RegNet> regnet_y_400mf(int64_t num_classes) {
  return nn::make<RegNet>(RegNetParams::from_init_params(16, 48, 27.89, 2.09, 8, 1.0, 0.25), num_classes);
}

}  // namespace ds::models
