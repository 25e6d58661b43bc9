#pragma once
// GoogLeNet (Szegedy et al., 2014) exactly as torchvision builds it for googlenet(weights=None): BasicConv2d (conv +
// BN + ReLU) everywhere, nine Inception blocks (the "5x5" branch uses a 3x3 conv, as torchvision's), the two auxiliary
// classifiers (aux_logits = true) and transform_input = false; trunc_normal(0, 0.01) conv and linear weights.
//   x: (N, 3, H, W), H, W >= 15 -> (N, num_classes). 13,004,888 parameters for 1000 classes, aux heads included.
#include <ds/models/vision/layers.h>
#include <ds/nn/linear.h>

namespace ds::models {

class Inception : public nn::Module {
 public:
  Inception(int64_t in, int64_t ch1x1, int64_t ch3x3red, int64_t ch3x3, int64_t ch5x5red, int64_t ch5x5,
            int64_t pool_proj);
  // x: (N, in, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<BasicConv2d> branch1_;
  std::shared_ptr<nn::Sequential> branch2_, branch3_, branch4_;
};

// x: (N, in, H, W) -> 4x4 average -> 1x1 conv (128) -> 1024 -> dropout -> (N, num_classes)
class InceptionAux : public nn::Module {
 public:
  InceptionAux(int64_t in, int64_t num_classes, double dropout = 0.7);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<BasicConv2d> conv_;
  std::shared_ptr<nn::Linear> fc1_, fc2_;
  std::shared_ptr<nn::Module> dropout_;
};

struct GoogLeNetOptions {
  bool aux_logits = true;
  bool transform_input = false;  // re-normalise ImageNet-normalised input to [-1, 1] per channel
  bool init_weights = true;
  double dropout = 0.2;
  double dropout_aux = 0.7;
};

class GoogLeNet : public nn::Module {
 public:
  explicit GoogLeNet(int64_t num_classes = 1000, const GoogLeNetOptions& options = {});
  // The main logits; the auxiliary heads do not run (torchvision's eval-mode output).
  Tensor forward(const Tensor& x) override;
  // torchvision's training output: the logits and, in training mode with aux_logits, both auxiliary logits
  // (undefined otherwise). torchvision's recipe trains on loss(logits) + 0.3 (loss(aux1) + loss(aux2)).
  struct Outputs {
    Tensor logits, aux2, aux1;
  };
  Outputs forward_with_aux(const Tensor& x);

 private:
  Outputs run(const Tensor& x, bool with_aux);
  GoogLeNetOptions o_;
  std::shared_ptr<BasicConv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<nn::Module> maxpool1_, maxpool2_, maxpool3_, maxpool4_, avgpool_, dropout_;
  std::shared_ptr<Inception> inception3a_, inception3b_, inception4a_, inception4b_, inception4c_, inception4d_,
      inception4e_, inception5a_, inception5b_;
  std::shared_ptr<InceptionAux> aux1_, aux2_;
  std::shared_ptr<nn::Linear> fc_;
};

std::shared_ptr<GoogLeNet> googlenet(int64_t num_classes = 1000, const GoogLeNetOptions& options = {});

// torchvision's transform_input (GoogLeNet and Inception-v3): x * std / 0.5 + (mean - 0.5) / 0.5 per channel, which
// maps ImageNet-normalised input to the [-1, 1] scaling the original weights were trained on. x: (N, 3, H, W).
Tensor imagenet_to_unit_range(const Tensor& x);

}  // namespace ds::models
