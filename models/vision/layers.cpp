#include <ds/models/vision/layers.h>

#include <ds/core/detail/check.h>
#include <ds/nn/activation.h>
#include <ds/nn/init.h>
#include <ds/nn/linear.h>
#include <ds/nn/pooling.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/shape_ops.h>

namespace ds::models {

Tensor ReLU6::forward(const Tensor& x) { return clamp(x, 0.0, 6.0); }

std::shared_ptr<nn::Module> make_activation(Activation a) {
  switch (a) {
    case Activation::None: return nullptr;
    case Activation::ReLU: return nn::make<nn::ReLU>();
    case Activation::ReLU6: return nn::make<ReLU6>();
    case Activation::SiLU: return nn::make<nn::SiLU>();
    case Activation::Sigmoid: return nn::make<nn::Sigmoid>();
  }
  DS_FAIL("make_activation", "unknown activation {}", static_cast<int>(a));
}

std::shared_ptr<nn::Sequential> conv_norm_act(int64_t in, int64_t out, const ConvNormActOptions& o) {
  Shape padding;
  for (int64_t k : o.kernel) padding.push_back((k - 1) / 2);
  auto m = nn::make<nn::Sequential>();
  m->push_back(nn::make<nn::Conv2d>(
      in, out, o.kernel, nn::ConvLayerOptions{.stride = {o.stride}, .padding = padding, .groups = o.groups, .bias = false}));
  m->push_back(nn::make<nn::BatchNorm2d>(out, nn::BatchNormOptions{.eps = o.eps}));
  if (auto act = make_activation(o.activation)) m->push_back(std::move(act));
  return m;
}

BasicConv2d::BasicConv2d(int64_t in, int64_t out, Shape kernel, nn::ConvLayerOptions options) : Module("BasicConv2d") {
  options.bias = false;
  conv_ = register_module("conv", nn::make<nn::Conv2d>(in, out, kernel, options));
  bn_ = register_module("bn", nn::make<nn::BatchNorm2d>(out, nn::BatchNormOptions{.eps = 0.001}));
}

Tensor BasicConv2d::forward(const Tensor& x) { return relu((*bn_)((*conv_)(x))); }

SqueezeExcitation::SqueezeExcitation(int64_t channels, int64_t squeeze_channels, Activation activation)
    : Module("SqueezeExcitation") {
  register_module("avgpool", nn::make<nn::AdaptiveAvgPool2d>(Shape{1}));
  fc1_ = register_module("fc1", nn::make<nn::Conv2d>(channels, squeeze_channels, Shape{1}));
  fc2_ = register_module("fc2", nn::make<nn::Conv2d>(squeeze_channels, channels, Shape{1}));
  activation_ = register_module("activation", make_activation(activation));
  register_module("scale_activation", nn::make<nn::Sigmoid>());
}

Tensor SqueezeExcitation::forward(const Tensor& x) {
  // x: (N, C, H, W) -> scale: (N, C, 1, 1), broadcast over H, W.
  const Tensor scale = sigmoid((*fc2_)((*activation_)((*fc1_)(adaptive_avg_pool2d(x, {1})))));
  return scale * x;
}

Tensor stochastic_depth(const Tensor& x, double p, bool row_mode, bool training) {
  DS_CHECK(p >= 0 && p <= 1, "stochastic_depth", "drop probability must be in [0, 1], got {}", p);
  if (!training || p == 0) return x;
  Shape size(static_cast<size_t>(x.dim()), 1);
  if (row_mode) size[0] = x.size(0);
  const double survival = 1 - p;
  // Bernoulli(survival) per row as uniform < survival: torch's bernoulli_ draws the same distribution.
  Tensor noise = lt(rand(size, {.dtype = x.dtype(), .device = x.device()}), survival).to(x.dtype());
  if (survival > 0) noise = noise / survival;
  return x * noise;
}

StochasticDepth::StochasticDepth(double p, std::string_view mode) : Module("StochasticDepth"), p_(p), row_(mode == "row") {
  DS_CHECK(p >= 0 && p <= 1, "StochasticDepth", "drop probability must be in [0, 1], got {}", p);
  DS_CHECK(mode == "row" || mode == "batch", "StochasticDepth", "mode must be 'row' or 'batch', got '{}'", mode);
}

Tensor StochasticDepth::forward(const Tensor& x) { return stochastic_depth(x, p_, row_, is_training()); }

std::string StochasticDepth::extra_repr() const { return fmt::format("p={}, mode={}", p_, row_ ? "row" : "batch"); }

Tensor channel_shuffle(const Tensor& x, int64_t groups) {
  DS_CHECK(x.dim() == 4 && groups > 0 && x.size(1) % groups == 0, "channel_shuffle",
           "expects (N, C, H, W) with C divisible by groups={}, got {}", groups, shape_str(x.sizes()));
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.view({n, groups, c / groups, h, w}).transpose(1, 2).contiguous().view({n, c, h, w});
}

int64_t make_divisible(double v, int64_t divisor, std::optional<int64_t> min_value) {
  const int64_t lo = min_value.value_or(divisor);
  int64_t out = std::max(lo, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (out < 0.9 * v) out += divisor;
  return out;
}

void init_convs_kaiming_fan_out(nn::Module& root) {
  root.apply([](nn::Module& m) {
    auto* conv = dynamic_cast<nn::Conv2d*>(&m);
    if (!conv) return;
    nn::init::kaiming_normal_(conv->weight, 0, nn::init::FanMode::FanOut, nn::init::Nonlinearity::ReLU);
    if (conv->bias.defined()) nn::init::zeros_(conv->bias);
  });
}

void init_linears_normal(nn::Module& root, double std) {
  root.apply([std](nn::Module& m) {
    auto* fc = dynamic_cast<nn::Linear*>(&m);
    if (!fc) return;
    nn::init::normal_(fc->weight, 0, std);
    if (fc->bias.defined()) nn::init::zeros_(fc->bias);
  });
}

void check_image_input(const Tensor& x, std::string_view model, int64_t min_size) {
  DS_CHECK(x.dim() == 4 && x.size(1) == 3, model, "expects images (N, 3, H, W), got {}", shape_str(x.sizes()));
  DS_CHECK(x.size(2) >= min_size && x.size(3) >= min_size, model, "needs images of at least {}x{}, got {}x{}",
           min_size, min_size, x.size(2), x.size(3));
}

}  // namespace ds::models
