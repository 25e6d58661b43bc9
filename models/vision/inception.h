#pragma once
// Inception-v3 (Szegedy et al., 2015) exactly as torchvision builds it for inception_v3(weights=None): the
// InceptionA..E blocks of BasicConv2d (conv + BN(eps 0.001) + ReLU), the auxiliary classifier after Mixed_6e
// (aux_logits = true), transform_input = false, trunc_normal(0, 0.1) conv and linear weights (0.001 for the aux fc).
//   x: (N, 3, H, W), H, W >= 75 (299 native; the aux head needs 299 in training) -> (N, num_classes).
// 27,161,264 parameters for 1000 classes, aux head included.
#include <ds/models/vision/layers.h>
#include <ds/nn/linear.h>

namespace ds::models {

// x: (N, in, H, W) -> (N, 224 + pool_features, H, W)
class InceptionA : public nn::Module {
 public:
  InceptionA(int64_t in, int64_t pool_features);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<BasicConv2d> branch1x1_, branch5x5_1_, branch5x5_2_, branch3x3dbl_1_, branch3x3dbl_2_,
      branch3x3dbl_3_, branch_pool_;
};

// x: (N, in, H, W) -> (N, in + 480, (H - 3) / 2 + 1, (W - 3) / 2 + 1)
class InceptionB : public nn::Module {
 public:
  explicit InceptionB(int64_t in);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<BasicConv2d> branch3x3_, branch3x3dbl_1_, branch3x3dbl_2_, branch3x3dbl_3_;
};

// Factorised 7x7 convs. x: (N, in, H, W) -> (N, 768, H, W)
class InceptionC : public nn::Module {
 public:
  InceptionC(int64_t in, int64_t channels_7x7);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<BasicConv2d> branch1x1_, branch7x7_1_, branch7x7_2_, branch7x7_3_, branch7x7dbl_1_, branch7x7dbl_2_,
      branch7x7dbl_3_, branch7x7dbl_4_, branch7x7dbl_5_, branch_pool_;
};

// x: (N, in, H, W) -> (N, in + 512, (H - 3) / 2 + 1, (W - 3) / 2 + 1)
class InceptionD : public nn::Module {
 public:
  explicit InceptionD(int64_t in);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<BasicConv2d> branch3x3_1_, branch3x3_2_, branch7x7x3_1_, branch7x7x3_2_, branch7x7x3_3_,
      branch7x7x3_4_;
};

// Expanded filter bank. x: (N, in, H, W) -> (N, 2048, H, W)
class InceptionE : public nn::Module {
 public:
  explicit InceptionE(int64_t in);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<BasicConv2d> branch1x1_, branch3x3_1_, branch3x3_2a_, branch3x3_2b_, branch3x3dbl_1_,
      branch3x3dbl_2_, branch3x3dbl_3a_, branch3x3dbl_3b_, branch_pool_;
};

// torchvision's inception.InceptionAux. x: (N, in, 17, 17) -> 5x5/3 average -> 1x1 conv (128) -> 5x5 conv (768) ->
// (N, num_classes)
class InceptionV3Aux : public nn::Module {
 public:
  InceptionV3Aux(int64_t in, int64_t num_classes);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Linear> fc;

 private:
  std::shared_ptr<BasicConv2d> conv0_, conv1_;
};

struct InceptionV3Options {
  bool aux_logits = true;
  bool transform_input = false;  // see imagenet_to_unit_range (googlenet.h)
  bool init_weights = true;
  double dropout = 0.5;
};

class Inception3 : public nn::Module {
 public:
  explicit Inception3(int64_t num_classes = 1000, const InceptionV3Options& options = {});
  // The main logits; the auxiliary head does not run (torchvision's eval-mode output).
  Tensor forward(const Tensor& x) override;
  // torchvision's training output: the logits and, in training mode with aux_logits, the auxiliary logits
  // (undefined otherwise). The auxiliary head needs inputs of 299x299 or more.
  struct Outputs {
    Tensor logits, aux_logits;
  };
  Outputs forward_with_aux(const Tensor& x);

 private:
  Outputs run(const Tensor& x, bool with_aux);
  InceptionV3Options o_;
  std::shared_ptr<BasicConv2d> conv1a_, conv2a_, conv2b_, conv3b_, conv4a_;
  std::shared_ptr<nn::Module> maxpool1_, maxpool2_, avgpool_, dropout_;
  std::shared_ptr<InceptionA> mixed5b_, mixed5c_, mixed5d_;
  std::shared_ptr<InceptionB> mixed6a_;
  std::shared_ptr<InceptionC> mixed6b_, mixed6c_, mixed6d_, mixed6e_;
  std::shared_ptr<InceptionV3Aux> aux_;
  std::shared_ptr<InceptionD> mixed7a_;
  std::shared_ptr<InceptionE> mixed7b_, mixed7c_;
  std::shared_ptr<nn::Linear> fc_;
};

std::shared_ptr<Inception3> inception_v3(int64_t num_classes = 1000, const InceptionV3Options& options = {});

}  // namespace ds::models
