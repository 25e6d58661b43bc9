#include <ds/models/vision/inception.h>

#include <ds/core/detail/check.h>
#include <ds/models/vision/googlenet.h>
#include <ds/nn/activation.h>
#include <ds/nn/init.h>
#include <ds/nn/pooling.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/shape_ops.h>

namespace ds::models {
namespace {
// A BasicConv2d with a (kh, kw) kernel and (ph, pw) padding (one value for both dims when given one).
std::shared_ptr<BasicConv2d> conv(int64_t in, int64_t out, Shape k, Shape padding = {0}, int64_t stride = 1) {
  return nn::make<BasicConv2d>(in, out, std::move(k), nn::ConvLayerOptions{.stride = {stride}, .padding = std::move(padding)});
}
Tensor avg3x3(const Tensor& x) { return avg_pool2d(x, {3}, {.stride = {1}, .padding = {1}}); }
Tensor max3x3s2(const Tensor& x) { return max_pool2d(x, {3}, {.stride = {2}}); }
}  // namespace

InceptionA::InceptionA(int64_t in, int64_t pool_features) : Module("InceptionA") {
  branch1x1_ = register_module("branch1x1", conv(in, 64, {1}));
  branch5x5_1_ = register_module("branch5x5_1", conv(in, 48, {1}));
  branch5x5_2_ = register_module("branch5x5_2", conv(48, 64, {5}, {2}));
  branch3x3dbl_1_ = register_module("branch3x3dbl_1", conv(in, 64, {1}));
  branch3x3dbl_2_ = register_module("branch3x3dbl_2", conv(64, 96, {3}, {1}));
  branch3x3dbl_3_ = register_module("branch3x3dbl_3", conv(96, 96, {3}, {1}));
  branch_pool_ = register_module("branch_pool", conv(in, pool_features, {1}));
}

Tensor InceptionA::forward(const Tensor& x) {
  return cat({(*branch1x1_)(x), (*branch5x5_2_)((*branch5x5_1_)(x)),
              (*branch3x3dbl_3_)((*branch3x3dbl_2_)((*branch3x3dbl_1_)(x))), (*branch_pool_)(avg3x3(x))},
             1);
}

InceptionB::InceptionB(int64_t in) : Module("InceptionB") {
  branch3x3_ = register_module("branch3x3", conv(in, 384, {3}, {0}, 2));
  branch3x3dbl_1_ = register_module("branch3x3dbl_1", conv(in, 64, {1}));
  branch3x3dbl_2_ = register_module("branch3x3dbl_2", conv(64, 96, {3}, {1}));
  branch3x3dbl_3_ = register_module("branch3x3dbl_3", conv(96, 96, {3}, {0}, 2));
}

Tensor InceptionB::forward(const Tensor& x) {
  return cat({(*branch3x3_)(x), (*branch3x3dbl_3_)((*branch3x3dbl_2_)((*branch3x3dbl_1_)(x))), max3x3s2(x)}, 1);
}

InceptionC::InceptionC(int64_t in, int64_t c7) : Module("InceptionC") {
  branch1x1_ = register_module("branch1x1", conv(in, 192, {1}));
  branch7x7_1_ = register_module("branch7x7_1", conv(in, c7, {1}));
  branch7x7_2_ = register_module("branch7x7_2", conv(c7, c7, {1, 7}, {0, 3}));
  branch7x7_3_ = register_module("branch7x7_3", conv(c7, 192, {7, 1}, {3, 0}));
  branch7x7dbl_1_ = register_module("branch7x7dbl_1", conv(in, c7, {1}));
  branch7x7dbl_2_ = register_module("branch7x7dbl_2", conv(c7, c7, {7, 1}, {3, 0}));
  branch7x7dbl_3_ = register_module("branch7x7dbl_3", conv(c7, c7, {1, 7}, {0, 3}));
  branch7x7dbl_4_ = register_module("branch7x7dbl_4", conv(c7, c7, {7, 1}, {3, 0}));
  branch7x7dbl_5_ = register_module("branch7x7dbl_5", conv(c7, 192, {1, 7}, {0, 3}));
  branch_pool_ = register_module("branch_pool", conv(in, 192, {1}));
}

Tensor InceptionC::forward(const Tensor& x) {
  const Tensor b7 = (*branch7x7_3_)((*branch7x7_2_)((*branch7x7_1_)(x)));
  Tensor b7dbl = (*branch7x7dbl_2_)((*branch7x7dbl_1_)(x));
  b7dbl = (*branch7x7dbl_5_)((*branch7x7dbl_4_)((*branch7x7dbl_3_)(b7dbl)));
  return cat({(*branch1x1_)(x), b7, b7dbl, (*branch_pool_)(avg3x3(x))}, 1);
}

InceptionD::InceptionD(int64_t in) : Module("InceptionD") {
  branch3x3_1_ = register_module("branch3x3_1", conv(in, 192, {1}));
  branch3x3_2_ = register_module("branch3x3_2", conv(192, 320, {3}, {0}, 2));
  branch7x7x3_1_ = register_module("branch7x7x3_1", conv(in, 192, {1}));
  branch7x7x3_2_ = register_module("branch7x7x3_2", conv(192, 192, {1, 7}, {0, 3}));
  branch7x7x3_3_ = register_module("branch7x7x3_3", conv(192, 192, {7, 1}, {3, 0}));
  branch7x7x3_4_ = register_module("branch7x7x3_4", conv(192, 192, {3}, {0}, 2));
}

Tensor InceptionD::forward(const Tensor& x) {
  const Tensor b3 = (*branch3x3_2_)((*branch3x3_1_)(x));
  const Tensor b7 = (*branch7x7x3_4_)((*branch7x7x3_3_)((*branch7x7x3_2_)((*branch7x7x3_1_)(x))));
  return cat({b3, b7, max3x3s2(x)}, 1);
}

InceptionE::InceptionE(int64_t in) : Module("InceptionE") {
  branch1x1_ = register_module("branch1x1", conv(in, 320, {1}));
  branch3x3_1_ = register_module("branch3x3_1", conv(in, 384, {1}));
  branch3x3_2a_ = register_module("branch3x3_2a", conv(384, 384, {1, 3}, {0, 1}));
  branch3x3_2b_ = register_module("branch3x3_2b", conv(384, 384, {3, 1}, {1, 0}));
  branch3x3dbl_1_ = register_module("branch3x3dbl_1", conv(in, 448, {1}));
  branch3x3dbl_2_ = register_module("branch3x3dbl_2", conv(448, 384, {3}, {1}));
  branch3x3dbl_3a_ = register_module("branch3x3dbl_3a", conv(384, 384, {1, 3}, {0, 1}));
  branch3x3dbl_3b_ = register_module("branch3x3dbl_3b", conv(384, 384, {3, 1}, {1, 0}));
  branch_pool_ = register_module("branch_pool", conv(in, 192, {1}));
}

Tensor InceptionE::forward(const Tensor& x) {
  const Tensor b3 = (*branch3x3_1_)(x);
  const Tensor b3dbl = (*branch3x3dbl_2_)((*branch3x3dbl_1_)(x));
  return cat({(*branch1x1_)(x), cat({(*branch3x3_2a_)(b3), (*branch3x3_2b_)(b3)}, 1),
              cat({(*branch3x3dbl_3a_)(b3dbl), (*branch3x3dbl_3b_)(b3dbl)}, 1), (*branch_pool_)(avg3x3(x))},
             1);
}

InceptionV3Aux::InceptionV3Aux(int64_t in, int64_t num_classes) : Module("InceptionAux") {
  conv0_ = register_module("conv0", conv(in, 128, {1}));
  conv1_ = register_module("conv1", conv(128, 768, {5}));
  fc = register_module("fc", nn::make<nn::Linear>(768, num_classes));
}

Tensor InceptionV3Aux::forward(const Tensor& x) {
  // x: (N, 768, 17, 17) -> (N, 768, 5, 5) -> (N, 128, 5, 5) -> (N, 768, 1, 1) -> (N, 768) -> (N, classes)
  DS_CHECK(x.size(2) >= 17 && x.size(3) >= 17, "inception_v3",
           "the auxiliary classifier needs 17x17 maps after Mixed_6e (299x299 input), got {}x{}; use forward() or "
           "aux_logits = false for smaller images", x.size(2), x.size(3));
  const Tensor y = (*conv1_)((*conv0_)(avg_pool2d(x, {5}, {.stride = {3}})));
  return (*fc)(adaptive_avg_pool2d(y, {1}).flatten(1));
}

Inception3::Inception3(int64_t num_classes, const InceptionV3Options& o) : Module("Inception3"), o_(o) {
  conv1a_ = register_module("Conv2d_1a_3x3", conv(3, 32, {3}, {0}, 2));
  conv2a_ = register_module("Conv2d_2a_3x3", conv(32, 32, {3}));
  conv2b_ = register_module("Conv2d_2b_3x3", conv(32, 64, {3}, {1}));
  maxpool1_ = register_module("maxpool1", nn::make<nn::MaxPool2d>(Shape{3}, PoolOptions{.stride = {2}}));
  conv3b_ = register_module("Conv2d_3b_1x1", conv(64, 80, {1}));
  conv4a_ = register_module("Conv2d_4a_3x3", conv(80, 192, {3}));
  maxpool2_ = register_module("maxpool2", nn::make<nn::MaxPool2d>(Shape{3}, PoolOptions{.stride = {2}}));
  mixed5b_ = register_module("Mixed_5b", nn::make<InceptionA>(192, 32));
  mixed5c_ = register_module("Mixed_5c", nn::make<InceptionA>(256, 64));
  mixed5d_ = register_module("Mixed_5d", nn::make<InceptionA>(288, 64));
  mixed6a_ = register_module("Mixed_6a", nn::make<InceptionB>(288));
  mixed6b_ = register_module("Mixed_6b", nn::make<InceptionC>(768, 128));
  mixed6c_ = register_module("Mixed_6c", nn::make<InceptionC>(768, 160));
  mixed6d_ = register_module("Mixed_6d", nn::make<InceptionC>(768, 160));
  mixed6e_ = register_module("Mixed_6e", nn::make<InceptionC>(768, 192));
  if (o.aux_logits) aux_ = register_module("AuxLogits", nn::make<InceptionV3Aux>(768, num_classes));
  mixed7a_ = register_module("Mixed_7a", nn::make<InceptionD>(768));
  mixed7b_ = register_module("Mixed_7b", nn::make<InceptionE>(1280));
  mixed7c_ = register_module("Mixed_7c", nn::make<InceptionE>(2048));
  avgpool_ = register_module("avgpool", nn::make<nn::AdaptiveAvgPool2d>(Shape{1, 1}));
  dropout_ = register_module("dropout", nn::make<nn::Dropout>(o.dropout));
  fc_ = register_module("fc", nn::make<nn::Linear>(2048, num_classes));
  if (!o.init_weights) return;
  // torchvision draws N(0, stddev) truncated to [-2, 2] with stddev 0.1, or the module's `stddev` attribute: only
  // AuxLogits.fc has one that applies (0.001); the 0.01 set on AuxLogits.conv1 sits on the BasicConv2d, not on its
  // Conv2d, so that conv gets 0.1 too.
  apply([](nn::Module& m) {
    if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) nn::init::trunc_normal_(c->weight, 0, 0.1, -2, 2);
    else if (auto* fc = dynamic_cast<nn::Linear*>(&m)) nn::init::trunc_normal_(fc->weight, 0, 0.1, -2, 2);
  });
  if (aux_) nn::init::trunc_normal_(aux_->fc->weight, 0, 0.001, -2, 2);
}

Inception3::Outputs Inception3::run(const Tensor& input, bool with_aux) {
  check_image_input(input, "inception_v3", 75);
  Outputs out;
  // x: (N, 3, 299, 299) -> (N, 192, 35, 35) -> Mixed_5: (N, 288, 35, 35) -> Mixed_6: (N, 768, 17, 17)
  //   -> Mixed_7: (N, 2048, 8, 8) -> (N, 2048) -> (N, classes)
  Tensor x = o_.transform_input ? imagenet_to_unit_range(input) : input;
  x = (*maxpool1_)((*conv2b_)((*conv2a_)((*conv1a_)(x))));
  x = (*maxpool2_)((*conv4a_)((*conv3b_)(x)));
  x = (*mixed5d_)((*mixed5c_)((*mixed5b_)(x)));
  x = (*mixed6e_)((*mixed6d_)((*mixed6c_)((*mixed6b_)((*mixed6a_)(x)))));
  if (with_aux && aux_ && is_training()) out.aux_logits = (*aux_)(x);
  x = (*mixed7c_)((*mixed7b_)((*mixed7a_)(x)));
  out.logits = (*fc_)((*dropout_)((*avgpool_)(x)).flatten(1));
  return out;
}

Tensor Inception3::forward(const Tensor& x) { return run(x, false).logits; }
Inception3::Outputs Inception3::forward_with_aux(const Tensor& x) { return run(x, true); }

std::shared_ptr<Inception3> inception_v3(int64_t num_classes, const InceptionV3Options& options) {
  return nn::make<Inception3>(num_classes, options);
}

}  // namespace ds::models
