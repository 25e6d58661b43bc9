#pragma once
// SqueezeNet (Iandola et al., 2016) exactly as torchvision builds it: Fire modules (1x1 squeeze, then 1x1 and 3x3
// expands concatenated), a 1x1 conv classifier averaged over the image; kaiming_uniform convs, N(0, 0.01) final
// conv, zero biases. Versions 1.0 and 1.1 (2.4x less computation, same accuracy).
//   x: (N, 3, H, W), H, W >= 21 (1.0) / 17 (1.1) -> (N, num_classes). SqueezeNet 1.1: 1,235,496 parameters.
#include <ds/nn/container.h>
#include <ds/nn/conv.h>

namespace ds::models {

// x: (N, in, H, W) -> (N, expand1x1 + expand3x3, H, W)
class Fire : public nn::Module {
 public:
  Fire(int64_t in, int64_t squeeze, int64_t expand1x1, int64_t expand3x3);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Conv2d> squeeze_, expand1x1_, expand3x3_;
};

class SqueezeNet : public nn::Module {
 public:
  enum class Version { V1_0, V1_1 };
  explicit SqueezeNet(Version version, int64_t num_classes = 1000, double dropout = 0.5);
  Tensor forward(const Tensor& x) override;

 private:
  Version version_;
  std::shared_ptr<nn::Sequential> features_, classifier_;
};

std::shared_ptr<SqueezeNet> squeezenet1_0(int64_t num_classes = 1000);
std::shared_ptr<SqueezeNet> squeezenet1_1(int64_t num_classes = 1000);

}  // namespace ds::models
