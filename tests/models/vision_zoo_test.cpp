// The vision zoo (models/vision/*, registered in models/vision/zoo.cpp). For every model: the parameter count of
// torchvision's model of the same name (1000 classes; every number below printed by torchvision 0.29's
// sum(p.numel() for p in m(weights=None).parameters()), which also matches the published counts), some of
// torchvision's state_dict keys, the output shape at the native resolution (batch 1, eval mode, no grad) and one SGD
// step on a tiny batch at a small resolution that lowers the loss on that batch (train mode both times, the same
// dropout masks). vision_torchvision_test.cpp compares every key, shape and output with torchvision when it is
// importable.
#include <cmath>
#include <functional>

#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/models/vision/googlenet.h>
#include <ds/models/vision/inception.h>
#include <ds/models/vision/layers.h>
#include <ds/models/vision/mobilenet.h>
#include <ds/models/vision/regnet.h>
#include <ds/models/vision/squeezenet.h>
#include <ds/models/vision/vgg.h>
#include <ds/models/zoo.h>

#include "../test_util.h"

using namespace ds;
using models::zoo_entry;

namespace {

struct Case {
  std::string name;
  int64_t parameters;   // torchvision's count for 1000 classes
  int64_t train_size;   // resolution of the training step (small, but one the architecture admits)
  std::vector<std::string> keys;  // some of torchvision's state_dict keys
  std::function<std::shared_ptr<nn::Module>()> make = {};  // default: the zoo's factory
  // The training loss; default cross_entropy(model(x), y).
  std::function<Tensor(nn::Module&, const Tensor&, const Tensor&)> loss = {};
};

bool all_finite(const Tensor& t) {
  for (float v : t.contiguous().tolist<float>())
    if (!std::isfinite(v)) return false;
  return true;
}

// One SGD step on 2 images of train_size: the loss on the same batch falls. The seed is reset before each forward
// so dropout and stochastic depth draw the same masks both times. At a fresh init with batch statistics over 2
// images the loss is steep (torchvision's resnet50 at 64x64: gradient norm about 3e3; at 32x32, where the last
// batch norms see 2 values each, 7e8): the gradient is clipped to norm 1 and the step is 1e-4 long, short enough to
// go downhill on every model (tried: steps of 1e-3 went uphill on resnet101 and 1e-2 on mobilenet_v2).
void check_training_step(nn::Module& m, const Case& c) {
  m.train();
  manual_seed(11);
  const Tensor x = randn({2, 3, c.train_size, c.train_size}), y = randint(0, 1000, {2});
  auto loss = [&] {
    manual_seed(12);
    return c.loss ? c.loss(m, x, y) : cross_entropy(m(x), y);
  };
  const std::vector<Tensor> params = m.parameters();
  optim::SGD opt(params, {.lr = 1e-4});
  const Tensor before = loss();
  before.backward();
  const double grad_norm = optim::clip_grad_norm_(params, 1.0).item<double>();
  opt.step();
  double after = 0;
  {
    NoGradGuard no_grad;
    after = loss().item_double();
  }
  INFO("loss before " << before.item_double() << ", after " << after << ", gradient norm " << grad_norm);
  CHECK(std::isfinite(before.item_double()));
  CHECK(after < before.item_double());
}

void check_model(const Case& c) {
  INFO("model " << c.name);
  const models::ZooEntry& e = zoo_entry(c.name);
  CHECK(e.family == "vision");
  CHECK(e.parameter_count() == c.parameters);
  const auto m = c.make ? c.make() : e.create();
  REQUIRE(m);
  CHECK(m->parameter_count() == c.parameters);
  const StateDict state = m->state_dict();
  for (const std::string& key : c.keys) {
    INFO("state_dict key " << key);
    CHECK(state.contains(key));
  }
  {
    NoGradGuard no_grad;
    m->eval();
    const Shape& in = e.input_shape;
    const Tensor out = (*m)(randn({1, in[0], in[1], in[2]}));
    CHECK(out.sizes() == Shape{1, 1000});
    CHECK(all_finite(out));
  }
  check_training_step(*m, c);
}

}  // namespace

TEST_CASE("vision zoo: AlexNet", "[models][vision]") {
  check_model({"alexnet", 61'100'840, 64, {"features.0.weight", "features.10.bias", "classifier.1.weight", "classifier.6.bias"}});
}

TEST_CASE("vision zoo: VGG 11/13/16/19 with and without batch norm", "[models][vision]") {
  // torchvision's init (138M normal draws) takes seconds per model: vgg16 is built as the zoo builds it, the others
  // with init_weights = false (torch's per-layer defaults), which changes no shape or count.
  const std::vector<std::string> plain{"features.0.weight", "features.0.bias", "classifier.0.weight", "classifier.6.bias"};
  const std::vector<std::string> bn{"features.1.running_mean", "features.1.num_batches_tracked", "classifier.6.bias"};
  check_model({"vgg11", 132'863'336, 32, plain, [] { return models::vgg11(1000, false); }});
  check_model({"vgg11_bn", 132'868'840, 32, bn, [] { return models::vgg11_bn(1000, false); }});
  check_model({"vgg13", 133'047'848, 32, plain, [] { return models::vgg13(1000, false); }});
  check_model({"vgg13_bn", 133'053'736, 32, bn, [] { return models::vgg13_bn(1000, false); }});
  check_model({"vgg16", 138'357'544, 32, {"features.0.weight", "features.28.weight", "classifier.6.bias"}});
  check_model({"vgg16_bn", 138'365'992, 32, {"features.41.running_var", "features.40.weight"},
               [] { return models::vgg16_bn(1000, false); }});
  check_model({"vgg19", 143'667'240, 32, {"features.34.weight"}, [] { return models::vgg19(1000, false); }});
  check_model({"vgg19_bn", 143'678'248, 32, {"features.50.running_var", "features.49.weight"}, [] { return models::vgg19_bn(1000, false); }});
}

TEST_CASE("vision zoo: ResNet 18/34/50/101/152", "[models][vision]") {
  check_model({"resnet18", 11'689'512, 64, {"conv1.weight", "layer1.0.bn1.running_mean", "layer2.0.downsample.0.weight", "fc.bias"}});
  check_model({"resnet34", 21'797'672, 64, {"layer3.5.conv2.weight"}});
  check_model({"resnet50", 25'557'032, 64, {"layer1.0.downsample.1.weight", "layer4.2.bn3.running_var", "fc.weight"}});
  check_model({"resnet101", 44'549'160, 64, {"layer3.22.conv3.weight"}});
  check_model({"resnet152", 60'192'808, 64, {"layer3.35.bn3.num_batches_tracked"}});
}

TEST_CASE("vision zoo: GoogLeNet with its auxiliary classifiers", "[models][vision]") {
  // torchvision's recipe: the main loss plus 0.3 times each auxiliary loss.
  auto loss = [](nn::Module& m, const Tensor& x, const Tensor& y) {
    const auto out = dynamic_cast<models::GoogLeNet&>(m).forward_with_aux(x);
    REQUIRE(out.aux1.defined());
    REQUIRE(out.aux2.defined());
    CHECK(out.aux1.sizes() == Shape{2, 1000});
    return cross_entropy(out.logits, y) + 0.3 * (cross_entropy(out.aux1, y) + cross_entropy(out.aux2, y));
  };
  check_model({"googlenet", 13'004'888, 64,
               {"conv1.conv.weight", "conv1.bn.running_var", "inception3a.branch2.1.conv.weight",
                "inception4e.branch4.1.bn.bias", "aux1.conv.conv.weight", "aux2.fc2.bias", "fc.weight"},
               {}, loss});
}

TEST_CASE("vision zoo: Inception-v3", "[models][vision]") {
  // The training step at 107x107, the smallest size whose last maps are 2x2 (at 75x75, the smallest the model takes,
  // they are 1x1 and batch norm over 2 values makes the loss too steep); forward() runs without the auxiliary head,
  // which needs 299.
  check_model({"inception_v3", 27'161'264, 107,
               {"Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch5x5_2.bn.running_mean", "Mixed_6b.branch7x7dbl_5.conv.weight",
                "Mixed_7c.branch3x3dbl_3b.bn.weight", "AuxLogits.conv1.conv.weight", "AuxLogits.fc.bias", "fc.bias"}});
}

TEST_CASE("vision zoo: Inception-v3's auxiliary head at 299x299, and a clear error below", "[models][vision]") {
  auto m = models::inception_v3(10, {.init_weights = false});
  NoGradGuard no_grad;
  const auto out = m->forward_with_aux(randn({2, 3, 299, 299}));
  CHECK(out.logits.sizes() == Shape{2, 10});
  CHECK(out.aux_logits.sizes() == Shape{2, 10});
  CHECK_THROWS_WITH(m->forward_with_aux(randn({2, 3, 75, 75})),
                    Catch::Contains("[inception_v3]") && Catch::Contains("299x299"));
  m->eval();
  CHECK_FALSE(m->forward_with_aux(randn({1, 3, 75, 75})).aux_logits.defined());
}

TEST_CASE("vision zoo: DenseNet-121", "[models][vision]") {
  check_model({"densenet121", 7'978'856, 64,
               {"features.conv0.weight", "features.denseblock1.denselayer1.norm1.weight",
                "features.denseblock4.denselayer16.conv2.weight", "features.transition3.conv.weight",
                "features.norm5.running_var", "classifier.bias"}});
}

TEST_CASE("vision zoo: SqueezeNet 1.0 and 1.1", "[models][vision]") {
  check_model({"squeezenet1_0", 1'248'424, 32, {"features.0.weight", "features.12.expand3x3.bias", "classifier.1.weight"}});
  check_model({"squeezenet1_1", 1'235'496, 32,
               {"features.0.weight", "features.3.squeeze.weight", "features.12.expand1x1.bias", "classifier.1.bias"}});
}

TEST_CASE("vision zoo: MobileNetV2", "[models][vision]") {
  check_model({"mobilenet_v2", 3'504'872, 64,
               {"features.0.0.weight", "features.0.1.running_mean", "features.1.conv.0.0.weight", "features.1.conv.1.weight",
                "features.2.conv.3.running_var", "features.18.1.bias", "classifier.1.weight"}});
}

TEST_CASE("vision zoo: ShuffleNetV2 1.0x", "[models][vision]") {
  check_model({"shufflenet_v2_x1_0", 2'278'604, 64,
               {"conv1.0.weight", "stage2.0.branch1.0.weight", "stage2.1.branch2.6.running_mean", "stage4.3.branch2.5.weight",
                "conv5.1.bias", "fc.weight"}});
}

TEST_CASE("vision zoo: EfficientNet-B0", "[models][vision]") {
  check_model({"efficientnet_b0", 5'288'548, 64,
               {"features.0.0.weight", "features.1.0.block.1.fc1.weight", "features.2.1.block.0.1.running_var",
                "features.6.3.block.2.fc2.bias", "features.8.1.weight", "classifier.1.bias"}});
}

TEST_CASE("vision zoo: RegNetY-400MF", "[models][vision]") {
  check_model({"regnet_y_400mf", 4'344'144, 64,
               {"stem.0.weight", "trunk_output.block1.block1-0.proj.0.weight", "trunk_output.block2.block2-2.f.se.fc1.bias",
                "trunk_output.block4.block4-5.f.c.1.running_var", "fc.weight"}});
  // torchvision's BlockParams.from_init_params(16, 48, 27.89, 2.09, 8, se_ratio=0.25) gives these stages.
  const auto p = models::RegNetParams::from_init_params(16, 48, 27.89, 2.09, 8, 1.0, 0.25);
  CHECK(p.depths == std::vector<int64_t>{1, 3, 6, 6});
  CHECK(p.widths == std::vector<int64_t>{48, 104, 208, 440});
  CHECK(p.group_widths == std::vector<int64_t>{8, 8, 8, 8});
}

TEST_CASE("vision zoo: inputs a model cannot take are errors naming the model", "[models][vision]") {
  NoGradGuard no_grad;
  CHECK_THROWS_WITH((*models::squeezenet1_1(10))(randn({1, 3, 16, 16})),
                    Catch::Contains("[squeezenet1_1] needs images of at least 17x17, got 16x16"));
  CHECK_THROWS_WITH((*models::mobilenet_v2(10))(randn({1, 1, 32, 32})),
                    Catch::Contains("[mobilenet_v2] expects images (N, 3, H, W), got [1, 1, 32, 32]"));
  CHECK_THROWS_WITH(models::StochasticDepth(0.5, "rows"), Catch::Contains("[StochasticDepth] mode must be 'row' or 'batch'"));
}

TEST_CASE("vision zoo: building blocks against hand-computed values", "[models][vision]") {
  // channel_shuffle with 2 groups interleaves the halves: channels (0 1 2 3 4 5) -> (0 3 1 4 2 5).
  const Tensor x = arange(0, 6).to(kF32).reshape({1, 6, 1, 1});
  CHECK(models::channel_shuffle(x, 2).flatten().tolist<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  // ReLU6 clamps to [0, 6].
  CHECK(models::ReLU6().forward(tensor({-1.0, 3.0, 7.0})).tolist<float>() == std::vector<float>{0, 3, 6});
  // torchvision's _make_divisible: the nearest multiple (44 -> 48, 43.9 -> 40), at least the divisor (3 -> 8), and
  // one more step when rounding lost over 10% (20 to multiples of 16: 16 < 18, so 32).
  CHECK(models::make_divisible(32, 8) == 32);
  CHECK(models::make_divisible(44, 8) == 48);
  CHECK(models::make_divisible(43.9, 8) == 40);
  CHECK(models::make_divisible(3, 8) == 8);
  CHECK(models::make_divisible(20, 16) == 32);
  // Stochastic depth "row": each sample kept (scaled by 1 / (1 - p)) or zeroed as a whole; the identity in eval.
  manual_seed(3);
  const Tensor ones4 = ones({64, 2, 2, 2});
  const Tensor y = models::stochastic_depth(ones4, 0.25, true, true);
  int kept = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const std::vector<float> row = y.select(0, i).flatten().tolist<float>();
    const float v = row[0];
    CHECK((v == 0.0f || std::abs(v - 1.0f / 0.75f) < 1e-6f));
    for (float r : row) CHECK(r == v);
    kept += v != 0.0f;
  }
  CHECK(kept > 32);  // 48 expected; P(kept <= 32) is below 1e-5
  CHECK(kept < 64);
  CHECK(equal_bits(models::stochastic_depth(ones4, 0.25, true, false), ones4));
}
