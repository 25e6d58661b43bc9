#pragma once
// RegNet (Radosavovic et al., 2020) exactly as torchvision builds it: a 3x3 stem, four stages of residual bottleneck
// blocks with group convs (and squeeze-and-excitation for the Y models), stage widths and depths quantised from the
// linear parameterisation (w_0, w_a, w_m); N(0, sqrt(2 / fan_out)) convs, N(0, 0.01) linear.
//   x: (N, 3, H, W) -> (N, num_classes). RegNetY-400MF: 4,344,144 parameters for 1000 classes.
#include <ds/models/vision/layers.h>

namespace ds::models {

// torchvision's regnet.BlockParams: per-stage depth, width, group width, bottleneck multiplier, stride.
struct RegNetParams {
  std::vector<int64_t> depths, widths, group_widths, strides;
  std::vector<double> bottleneck_multipliers;
  double se_ratio = 0;  // 0: no squeeze-and-excitation
  // The quantised linear parameterisation, computed in float32 as torchvision does so the widths round alike.
  static RegNetParams from_init_params(int64_t depth, int64_t w_0, double w_a, double w_m, int64_t group_width,
                                       double bottleneck_multiplier = 1.0, double se_ratio = 0);
};

// x + f(x) (or proj(x) + f(x) when the shape changes), then ReLU; f: 1x1, grouped 3x3 (stride), [SE], 1x1.
// x: (N, in, H, W) -> (N, out, H / stride, W / stride)
class ResBottleneckBlock : public nn::Module {
 public:
  ResBottleneckBlock(int64_t in, int64_t out, int64_t stride, int64_t group_width, double bottleneck_multiplier,
                     double se_ratio);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> proj_, f_;
};

class RegNet : public nn::Module {
 public:
  explicit RegNet(const RegNetParams& params, int64_t num_classes = 1000, int64_t stem_width = 32);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> stem_, trunk_output_;
  std::shared_ptr<nn::Module> avgpool_, fc_;
};

std::shared_ptr<RegNet> regnet_y_400mf(int64_t num_classes = 1000);

}  // namespace ds::models
