#pragma once
// MobileNetV2 (Sandler et al., 2018) exactly as torchvision builds it: inverted residual blocks (1x1 expand, 3x3
// depthwise, 1x1 linear projection) with ReLU6, width_mult rounding to multiples of 8; kaiming_normal (fan_out) convs,
// N(0, 0.01) linear. x: (N, 3, H, W) -> (N, num_classes). 3,504,872 parameters for 1000 classes.
#include <ds/models/vision/layers.h>

namespace ds::models {

// x: (N, in, H, W) -> (N, out, H / stride, W / stride), plus x when stride is 1 and in == out.
class InvertedResidual : public nn::Module {
 public:
  InvertedResidual(int64_t in, int64_t out, int64_t stride, int64_t expand_ratio);
  Tensor forward(const Tensor& x) override;

 private:
  bool use_res_connect_;
  std::shared_ptr<nn::Sequential> conv_;
};

class MobileNetV2 : public nn::Module {
 public:
  explicit MobileNetV2(int64_t num_classes = 1000, double width_mult = 1.0, int64_t round_nearest = 8,
                       double dropout = 0.2);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> features_, classifier_;
};

std::shared_ptr<MobileNetV2> mobilenet_v2(int64_t num_classes = 1000, double width_mult = 1.0);

}  // namespace ds::models
