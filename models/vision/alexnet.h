#pragma once
// AlexNet (Krizhevsky et al., 2012) exactly as torchvision builds it (the "one weird trick" variant: 64-192-384-256-256
// channels, adaptive 6x6 pooling), torch's default layer init. x: (N, 3, H, W), H, W >= 63 -> (N, num_classes).
// 61,100,840 parameters for 1000 classes.
#include <ds/nn/container.h>

namespace ds::models {

class AlexNet : public nn::Module {
 public:
  explicit AlexNet(int64_t num_classes = 1000, double dropout = 0.5);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> features_, classifier_;
  std::shared_ptr<nn::Module> avgpool_;
};

std::shared_ptr<AlexNet> alexnet(int64_t num_classes = 1000);

}  // namespace ds::models
