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
// An ImageNet classifier at its native resolution; make(num_classes, args) reads any further arguments.
template <typename F>
ZooEntry imagenet(std::string name, int64_t parameters, F make, int64_t resolution, int64_t min_size) {
  return {std::move(name), "vision", [parameters] { return parameters; },
          [make](const ModelArgs& a) { return std::shared_ptr<nn::Module>(make(a.integer("num_classes", 1000), a)); },
          Shape{3, resolution, resolution}, min_size};
}
// A factory of num_classes alone.
template <typename F>
auto classes_only(F f) {
  return [f](int64_t n, const ModelArgs&) { return f(n); };
}
// VGG's: num_classes and init_weights.
template <typename F>
auto vgg(F f) {
  return [f](int64_t n, const ModelArgs& a) { return f(n, a.flag("init_weights", true)); };
}
}  // namespace

std::vector<ZooEntry> vision_zoo() {
  std::vector<ZooEntry> rows{
      {"lenet5", "vision", [] { return int64_t{61'706}; },
       [](const ModelArgs& a) {
         return std::shared_ptr<nn::Module>(lenet5(a.integer("num_classes", 10), a.integer("in_channels", 1)));
       },
       Shape{1, 28, 28}, 28},
      {"mlp", "vision", [] { return int64_t{669'706}; },
       [](const ModelArgs& a) {
         return std::shared_ptr<nn::Module>(mlp(a.integer("in_features", 784), a.integers("hidden", {512, 512}),
                                                a.integer("num_classes", 10)));
       },
       Shape{1, 28, 28}, 28},
  };
  const ZooEntry imagenet_rows[] = {
      imagenet("alexnet", 61'100'840, classes_only([](int64_t n) { return alexnet(n); }), 224, 63),
      imagenet("vgg11", 132'863'336, vgg(vgg11), 224, 32),
      imagenet("vgg11_bn", 132'868'840, vgg(vgg11_bn), 224, 32),
      imagenet("vgg13", 133'047'848, vgg(vgg13), 224, 32),
      imagenet("vgg13_bn", 133'053'736, vgg(vgg13_bn), 224, 32),
      imagenet("vgg16", 138'357'544, vgg(vgg16), 224, 32),
      imagenet("vgg16_bn", 138'365'992, vgg(vgg16_bn), 224, 32),
      imagenet("vgg19", 143'667'240, vgg(vgg19), 224, 32),
      imagenet("vgg19_bn", 143'678'248, vgg(vgg19_bn), 224, 32),
      imagenet("resnet18", 11'689'512, classes_only(resnet18), 224, 1),
      imagenet("resnet34", 21'797'672, classes_only(resnet34), 224, 1),
      imagenet("resnet50", 25'557'032, classes_only(resnet50), 224, 1),
      imagenet("resnet101", 44'549'160, classes_only(resnet101), 224, 1),
      imagenet("resnet152", 60'192'808, classes_only(resnet152), 224, 1),
      imagenet("googlenet", 13'004'888,
               [](int64_t n, const ModelArgs& a) {
                 const GoogLeNetOptions d;
                 return googlenet(n, {.aux_logits = a.flag("aux_logits", d.aux_logits),
                                      .transform_input = a.flag("transform_input", d.transform_input),
                                      .init_weights = a.flag("init_weights", d.init_weights),
                                      .dropout = a.number("dropout", d.dropout),
                                      .dropout_aux = a.number("dropout_aux", d.dropout_aux)});
               },
               224, 15),
      imagenet("inception_v3", 27'161'264,
               [](int64_t n, const ModelArgs& a) {
                 const InceptionV3Options d;
                 return inception_v3(n, {.aux_logits = a.flag("aux_logits", d.aux_logits),
                                         .transform_input = a.flag("transform_input", d.transform_input),
                                         .init_weights = a.flag("init_weights", d.init_weights),
                                         .dropout = a.number("dropout", d.dropout)});
               },
               299, 75),
      imagenet("densenet121", 7'978'856, classes_only(densenet121), 224, 29),
      imagenet("squeezenet1_0", 1'248'424, classes_only(squeezenet1_0), 224, 21),
      imagenet("squeezenet1_1", 1'235'496, classes_only(squeezenet1_1), 224, 17),
      imagenet("mobilenet_v2", 3'504'872,
               [](int64_t n, const ModelArgs& a) { return mobilenet_v2(n, a.number("width_mult", 1.0)); }, 224, 1),
      imagenet("shufflenet_v2_x1_0", 2'278'604, classes_only(shufflenet_v2_x1_0), 224, 1),
      imagenet("efficientnet_b0", 5'288'548,
               [](int64_t n, const ModelArgs& a) {
                 return efficientnet_b0(n, a.number("stochastic_depth_prob", 0.2));
               },
               224, 1),
      imagenet("regnet_y_400mf", 4'344'144, classes_only(regnet_y_400mf), 224, 1),
  };
  rows.insert(rows.end(), std::begin(imagenet_rows), std::end(imagenet_rows));
  return rows;
}

}  // namespace ds::models
