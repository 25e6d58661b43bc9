#pragma once
// EfficientNet (Tan & Le, 2019) exactly as torchvision builds it: MBConv blocks (1x1 expand, depthwise conv,
// squeeze-and-excitation, 1x1 projection; SiLU) with stochastic depth ("row" mode) growing linearly to
// stochastic_depth_prob over the blocks; kaiming_normal (fan_out) convs, U(+-1/sqrt(out)) linear.
//   x: (N, 3, H, W) -> (N, num_classes). EfficientNet-B0: 5,288,548 parameters for 1000 classes.
#include <ds/models/vision/layers.h>

namespace ds::models {

// One stage of torchvision's MBConvConfig, width and depth multipliers already applied.
struct MBConvConfig {
  double expand_ratio;
  int64_t kernel, stride, in, out, num_layers;
  // Channels rounded to multiples of 8 after `width_mult`, layers rounded up after `depth_mult`.
  static MBConvConfig scaled(double expand_ratio, int64_t kernel, int64_t stride, int64_t in, int64_t out,
                             int64_t num_layers, double width_mult, double depth_mult);
};

// x: (N, in, H, W) -> (N, out, H / stride, W / stride), plus x (after stochastic depth) when stride 1 and in == out.
class MBConv : public nn::Module {
 public:
  MBConv(const MBConvConfig& cnf, double stochastic_depth_prob);
  Tensor forward(const Tensor& x) override;

 private:
  bool use_res_connect_;
  std::shared_ptr<nn::Sequential> block_;
  std::shared_ptr<StochasticDepth> stochastic_depth_;
};

class EfficientNet : public nn::Module {
 public:
  EfficientNet(const std::vector<MBConvConfig>& setting, double dropout, double stochastic_depth_prob = 0.2,
               int64_t num_classes = 1000);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> features_, classifier_;
  std::shared_ptr<nn::Module> avgpool_;
};

std::shared_ptr<EfficientNet> efficientnet_b0(int64_t num_classes = 1000, double stochastic_depth_prob = 0.2);

}  // namespace ds::models
