#pragma once
// ShuffleNetV2 (Ma et al., 2018) exactly as torchvision builds it: units that split the channels (stride 1) or
// duplicate the input (stride 2) into two branches, concatenate and channel-shuffle them; torch's default layer init.
//   x: (N, 3, H, W) -> (N, num_classes). ShuffleNetV2 1.0x: 2,278,604 parameters for 1000 classes.
#include <ds/nn/container.h>

namespace ds::models {

// torchvision's shufflenetv2.InvertedResidual. x: (N, in, H, W) -> (N, out, H / stride, W / stride)
class ShuffleUnit : public nn::Module {
 public:
  ShuffleUnit(int64_t in, int64_t out, int64_t stride);
  Tensor forward(const Tensor& x) override;

 private:
  int64_t stride_;
  std::shared_ptr<nn::Sequential> branch1_, branch2_;
};

class ShuffleNetV2 : public nn::Module {
 public:
  // stages_repeats: units in stage2..4; stages_out_channels: conv1, stage2..4, conv5.
  ShuffleNetV2(const std::vector<int64_t>& stages_repeats, const std::vector<int64_t>& stages_out_channels,
               int64_t num_classes = 1000);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> conv1_, stage2_, stage3_, stage4_, conv5_;
  std::shared_ptr<nn::Module> maxpool_, fc_;
};

std::shared_ptr<ShuffleNetV2> shufflenet_v2_x1_0(int64_t num_classes = 1000);

}  // namespace ds::models
