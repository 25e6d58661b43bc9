// The vision rows of the model zoo: torchvision's names, native input and published parameter counts (1000
// classes; LeNet-5 and the MLP as ds-train builds them for Fashion-MNIST). tests/models/vision_zoo_test.cpp builds
// every model and checks its count against these numbers.
#include <ds/models/zoo.h>

#include <ds/models/vision/alexnet.h>
#include <ds/models/vision/densenet.h>
#include <ds/models/vision/efficientnet.h>
#include <ds/models/vision/googlenet.h>
#include <ds/models/vision/inception.h>
#include <ds/models/vision/lenet.h>
#include <ds/models/vision/mobilenet.h>
#include <ds/models/vision/regnet.h>
#include <ds/models/vision/resnet.h>
#include <ds/models/vision/shufflenet.h>
#include <ds/models/vision/squeezenet.h>
#include <ds/models/vision/vgg.h>

namespace ds::models {
namespace {
// An ImageNet classifier at its native resolution.
template <typename F>
ZooEntry imagenet(std::string name, int64_t parameters, F make, int64_t resolution, int64_t min_size) {
  return {std::move(name), "vision", [parameters] { return parameters; },
          [make] { return std::shared_ptr<nn::Module>(make(1000)); }, Shape{3, resolution, resolution}, min_size};
}
}  // namespace

std::vector<ZooEntry> vision_zoo() {
  std::vector<ZooEntry> rows{
      {"lenet5", "vision", [] { return int64_t{61'706}; }, [] { return std::shared_ptr<nn::Module>(lenet5()); },
       Shape{1, 28, 28}, 28},
      {"mlp", "vision", [] { return int64_t{669'706}; },
       [] { return std::shared_ptr<nn::Module>(mlp(784, {512, 512}, 10)); }, Shape{1, 28, 28}, 28},
  };
  const ZooEntry imagenet_rows[] = {
      imagenet("alexnet", 61'100'840, alexnet, 224, 63),
      imagenet("vgg11", 132'863'336, [](int64_t n) { return vgg11(n); }, 224, 32),
      imagenet("vgg11_bn", 132'868'840, [](int64_t n) { return vgg11_bn(n); }, 224, 32),
      imagenet("vgg13", 133'047'848, [](int64_t n) { return vgg13(n); }, 224, 32),
      imagenet("vgg13_bn", 133'053'736, [](int64_t n) { return vgg13_bn(n); }, 224, 32),
      imagenet("vgg16", 138'357'544, [](int64_t n) { return vgg16(n); }, 224, 32),
      imagenet("vgg16_bn", 138'365'992, [](int64_t n) { return vgg16_bn(n); }, 224, 32),
      imagenet("vgg19", 143'667'240, [](int64_t n) { return vgg19(n); }, 224, 32),
      imagenet("vgg19_bn", 143'678'248, [](int64_t n) { return vgg19_bn(n); }, 224, 32),
      imagenet("resnet18", 11'689'512, resnet18, 224, 1),
      imagenet("resnet34", 21'797'672, resnet34, 224, 1),
      imagenet("resnet50", 25'557'032, resnet50, 224, 1),
      imagenet("resnet101", 44'549'160, resnet101, 224, 1),
      imagenet("resnet152", 60'192'808, resnet152, 224, 1),
      imagenet("googlenet", 13'004'888, [](int64_t n) { return googlenet(n); }, 224, 15),
      imagenet("inception_v3", 27'161'264, [](int64_t n) { return inception_v3(n); }, 299, 75),
      imagenet("densenet121", 7'978'856, densenet121, 224, 29),
      imagenet("squeezenet1_0", 1'248'424, squeezenet1_0, 224, 21),
      imagenet("squeezenet1_1", 1'235'496, squeezenet1_1, 224, 17),
      imagenet("mobilenet_v2", 3'504'872, [](int64_t n) { return mobilenet_v2(n); }, 224, 1),
      imagenet("shufflenet_v2_x1_0", 2'278'604, shufflenet_v2_x1_0, 224, 1),
      imagenet("efficientnet_b0", 5'288'548, [](int64_t n) { return efficientnet_b0(n); }, 224, 1),
      imagenet("regnet_y_400mf", 4'344'144, regnet_y_400mf, 224, 1),
  };
  rows.insert(rows.end(), std::begin(imagenet_rows), std::end(imagenet_rows));
  return rows;
}

}  // namespace ds::models
