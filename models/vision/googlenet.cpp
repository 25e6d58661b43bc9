#include <ds/models/vision/googlenet.h>

#include <ds/nn/activation.h>
#include <ds/nn/init.h>
#include <ds/nn/pooling.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/shape_ops.h>

namespace ds::models {
namespace {
std::shared_ptr<BasicConv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t padding = 0) {
  return nn::make<BasicConv2d>(in, out, Shape{k}, nn::ConvLayerOptions{.stride = {stride}, .padding = {padding}});
}
std::shared_ptr<nn::MaxPool2d> ceil_pool(int64_t k, int64_t stride, int64_t padding = 0) {
  return nn::make<nn::MaxPool2d>(Shape{k}, PoolOptions{.stride = {stride}, .padding = {padding}, .ceil_mode = true});
}
}  // namespace

Inception::Inception(int64_t in, int64_t ch1x1, int64_t ch3x3red, int64_t ch3x3, int64_t ch5x5red, int64_t ch5x5,
                     int64_t pool_proj)
    : Module("Inception") {
  using L = std::initializer_list<std::shared_ptr<nn::Module>>;
  branch1_ = register_module("branch1", conv(in, ch1x1, 1));
  branch2_ = register_module("branch2", nn::make<nn::Sequential>(L{conv(in, ch3x3red, 1), conv(ch3x3red, ch3x3, 3, 1, 1)}));
  // torchvision's "5x5" branch is a 3x3 conv (a known slip kept for its pretrained weights).
  branch3_ = register_module("branch3", nn::make<nn::Sequential>(L{conv(in, ch5x5red, 1), conv(ch5x5red, ch5x5, 3, 1, 1)}));
  branch4_ = register_module("branch4", nn::make<nn::Sequential>(L{ceil_pool(3, 1, 1), conv(in, pool_proj, 1)}));
}

Tensor Inception::forward(const Tensor& x) {
  return cat({(*branch1_)(x), (*branch2_)(x), (*branch3_)(x), (*branch4_)(x)}, 1);
}

InceptionAux::InceptionAux(int64_t in, int64_t num_classes, double dropout) : Module("InceptionAux") {
  conv_ = register_module("conv", conv(in, 128, 1));
  fc1_ = register_module("fc1", nn::make<nn::Linear>(2048, 1024));
  fc2_ = register_module("fc2", nn::make<nn::Linear>(1024, num_classes));
  dropout_ = register_module("dropout", nn::make<nn::Dropout>(dropout));
}

Tensor InceptionAux::forward(const Tensor& x) {
  // x: (N, in, H, W) -> (N, in, 4, 4) -> (N, 128, 4, 4) -> (N, 2048) -> (N, 1024) -> (N, classes)
  const Tensor y = (*conv_)(adaptive_avg_pool2d(x, {4, 4})).flatten(1);
  return (*fc2_)((*dropout_)(relu((*fc1_)(y))));
}

GoogLeNet::GoogLeNet(int64_t num_classes, const GoogLeNetOptions& o) : Module("GoogLeNet"), o_(o) {
  conv1_ = register_module("conv1", conv(3, 64, 7, 2, 3));
  maxpool1_ = register_module("maxpool1", ceil_pool(3, 2));
  conv2_ = register_module("conv2", conv(64, 64, 1));
  conv3_ = register_module("conv3", conv(64, 192, 3, 1, 1));
  maxpool2_ = register_module("maxpool2", ceil_pool(3, 2));
  inception3a_ = register_module("inception3a", nn::make<Inception>(192, 64, 96, 128, 16, 32, 32));
  inception3b_ = register_module("inception3b", nn::make<Inception>(256, 128, 128, 192, 32, 96, 64));
  maxpool3_ = register_module("maxpool3", ceil_pool(3, 2));
  inception4a_ = register_module("inception4a", nn::make<Inception>(480, 192, 96, 208, 16, 48, 64));
  inception4b_ = register_module("inception4b", nn::make<Inception>(512, 160, 112, 224, 24, 64, 64));
  inception4c_ = register_module("inception4c", nn::make<Inception>(512, 128, 128, 256, 24, 64, 64));
  inception4d_ = register_module("inception4d", nn::make<Inception>(512, 112, 144, 288, 32, 64, 64));
  inception4e_ = register_module("inception4e", nn::make<Inception>(528, 256, 160, 320, 32, 128, 128));
  maxpool4_ = register_module("maxpool4", ceil_pool(2, 2));
  inception5a_ = register_module("inception5a", nn::make<Inception>(832, 256, 160, 320, 32, 128, 128));
  inception5b_ = register_module("inception5b", nn::make<Inception>(832, 384, 192, 384, 48, 128, 128));
  if (o.aux_logits) {
    aux1_ = register_module("aux1", nn::make<InceptionAux>(512, num_classes, o.dropout_aux));
    aux2_ = register_module("aux2", nn::make<InceptionAux>(528, num_classes, o.dropout_aux));
  }
  avgpool_ = register_module("avgpool", nn::make<nn::AdaptiveAvgPool2d>(Shape{1, 1}));
  dropout_ = register_module("dropout", nn::make<nn::Dropout>(o.dropout));
  fc_ = register_module("fc", nn::make<nn::Linear>(1024, num_classes));
  if (!o.init_weights) return;
  apply([](nn::Module& m) {
    if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) nn::init::trunc_normal_(c->weight, 0, 0.01, -2, 2);
    else if (auto* fc = dynamic_cast<nn::Linear*>(&m)) nn::init::trunc_normal_(fc->weight, 0, 0.01, -2, 2);
  });
}

GoogLeNet::Outputs GoogLeNet::run(const Tensor& input, bool with_aux) {
  check_image_input(input, "googlenet", 15);
  with_aux = with_aux && aux1_ && is_training();
  Outputs out;
  // x: (N, 3, H, W) -> (N, 64, H/4, W/4) -> (N, 192, H/8, W/8) -> ... -> (N, 1024, H/32, W/32) -> (N, classes)
  Tensor x = o_.transform_input ? imagenet_to_unit_range(input) : input;
  x = (*maxpool1_)((*conv1_)(x));
  x = (*maxpool2_)((*conv3_)((*conv2_)(x)));
  x = (*maxpool3_)((*inception3b_)((*inception3a_)(x)));
  x = (*inception4a_)(x);
  if (with_aux) out.aux1 = (*aux1_)(x);
  x = (*inception4d_)((*inception4c_)((*inception4b_)(x)));
  if (with_aux) out.aux2 = (*aux2_)(x);
  x = (*maxpool4_)((*inception4e_)(x));
  x = (*inception5b_)((*inception5a_)(x));
  out.logits = (*fc_)((*dropout_)((*avgpool_)(x).flatten(1)));
  return out;
}

Tensor GoogLeNet::forward(const Tensor& x) { return run(x, false).logits; }
GoogLeNet::Outputs GoogLeNet::forward_with_aux(const Tensor& x) { return run(x, true); }

std::shared_ptr<GoogLeNet> googlenet(int64_t num_classes, const GoogLeNetOptions& options) {
  return nn::make<GoogLeNet>(num_classes, options);
}

Tensor imagenet_to_unit_range(const Tensor& x) {
  const TensorOptions opts{.dtype = x.dtype(), .device = x.device()};
  const Tensor scale = tensor({0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5}, opts).view({1, 3, 1, 1});
  const Tensor shift = tensor({(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5}, opts).view({1, 3, 1, 1});
  return x * scale + shift;
}

}  // namespace ds::models
