#pragma once
// Building blocks the torchvision CNNs share, with torchvision's module names, so state_dict keys match:
//   conv_norm_act   torchvision.ops.Conv2dNormActivation: Sequential of Conv2d ("0"), BatchNorm2d ("1"), activation
//   BasicConv2d     GoogLeNet's and Inception-v3's conv (no bias) + BatchNorm2d(eps 0.001) + ReLU ("conv", "bn")
//   SqueezeExcitation, StochasticDepth, ReLU6, channel_shuffle, make_divisible, check_image_input.
#include <optional>
#include <string_view>

#include <ds/nn/container.h>
#include <ds/nn/conv.h>
#include <ds/nn/normalization.h>

namespace ds::models {

// min(max(x, 0), 6), as a clamp (torch.nn.ReLU6).
class ReLU6 : public nn::Module {
 public:
  ReLU6() : Module("ReLU6") {}
  Tensor forward(const Tensor& x) override;
};

enum class Activation { None, ReLU, ReLU6, SiLU, Sigmoid };
// The activation as a module (null for None).
std::shared_ptr<nn::Module> make_activation(Activation a);

struct ConvNormActOptions {
  Shape kernel{3};
  int64_t stride = 1;
  int64_t groups = 1;
  Activation activation = Activation::ReLU;
  double eps = 1e-5;  // of the BatchNorm2d
};
// x: (N, in, H, W) -> (N, out, H / stride, W / stride). Conv2d without bias, "same" padding (k - 1) / 2, then
// BatchNorm2d and the activation (left out for None), as children "0", "1", "2".
std::shared_ptr<nn::Sequential> conv_norm_act(int64_t in, int64_t out, const ConvNormActOptions& o = {});

// x: (N, in, H, W) -> (N, out, H', W'): conv (no bias) -> BatchNorm2d(eps 0.001) -> ReLU.
class BasicConv2d : public nn::Module {
 public:
  BasicConv2d(int64_t in, int64_t out, Shape kernel, nn::ConvLayerOptions options = {});
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Conv2d> conv_;
  std::shared_ptr<nn::BatchNorm2d> bn_;
};

// Squeeze-and-excitation (Hu et al., 2018): x * sigmoid(fc2(act(fc1(mean over H, W of x)))), fc1 and fc2 1x1
// convs with bias. x: (N, C, H, W) -> (N, C, H, W).
class SqueezeExcitation : public nn::Module {
 public:
  SqueezeExcitation(int64_t channels, int64_t squeeze_channels, Activation activation = Activation::ReLU);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Conv2d> fc1_, fc2_;
  std::shared_ptr<nn::Module> activation_;
};

// Stochastic depth (Huang et al., 2016), torchvision.ops.StochasticDepth: in training, "row" zeroes each sample's
// residual branch with probability p ("batch": the whole batch at once) and scales the kept ones by 1 / (1 - p);
// the identity in eval mode or for p = 0. x: (N, ...) -> (N, ...).
Tensor stochastic_depth(const Tensor& x, double p, bool row_mode, bool training);
class StochasticDepth : public nn::Module {
 public:
  StochasticDepth(double p, std::string_view mode);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  double p_;
  bool row_;
};

// ShuffleNet's channel shuffle as views: (N, C, H, W) -> (N, g, C/g, H, W) -> swap dims 1 and 2 -> (N, C, H, W).
Tensor channel_shuffle(const Tensor& x, int64_t groups);

// torchvision's _make_divisible: v rounded to the nearest multiple of divisor (at least min_value, default the
// divisor), never more than 10% below v.
int64_t make_divisible(double v, int64_t divisor, std::optional<int64_t> min_value = {});

// torchvision's usual initialisation, for every Conv2d / Linear below `root`: convs kaiming_normal (fan_out,
// gain sqrt(2), i.e. N(0, sqrt(2 / (out * kh * kw)))) with zero bias; linears N(0, std) with zero bias.
void init_convs_kaiming_fan_out(nn::Module& root);
void init_linears_normal(nn::Module& root, double std);

// The input check every zoo model starts with: x is (N, 3, H, W) with H, W >= min_size, else an error naming `model`.
void check_image_input(const Tensor& x, std::string_view model, int64_t min_size);

}  // namespace ds::models
