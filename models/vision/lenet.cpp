#include <ds/models/vision/lenet.h>

#include <ds/nn/nn.h>

namespace ds::models {

std::shared_ptr<nn::Sequential> lenet5(int64_t num_classes, int64_t in_channels) {
  auto m = nn::make<nn::Sequential>();
  m->push_back(nn::make<nn::Conv2d>(in_channels, 6, Shape{5}, nn::ConvLayerOptions{.padding = {2}}));
  m->push_back(nn::make<nn::ReLU>());
  m->push_back(nn::make<nn::MaxPool2d>(Shape{2}));
  m->push_back(nn::make<nn::Conv2d>(6, 16, Shape{5}));
  m->push_back(nn::make<nn::ReLU>());
  m->push_back(nn::make<nn::MaxPool2d>(Shape{2}));
  m->push_back(nn::make<nn::Flatten>());
  m->push_back(nn::make<nn::Linear>(16 * 5 * 5, 120));
  m->push_back(nn::make<nn::ReLU>());
  m->push_back(nn::make<nn::Linear>(120, 84));
  m->push_back(nn::make<nn::ReLU>());
  m->push_back(nn::make<nn::Linear>(84, num_classes));
  return m;
}

std::shared_ptr<nn::Sequential> mlp(int64_t in_features, std::vector<int64_t> hidden, int64_t num_classes) {
  auto m = nn::make<nn::Sequential>();
  m->push_back(nn::make<nn::Flatten>());
  int64_t in = in_features;
  for (int64_t h : hidden) {
    m->push_back(nn::make<nn::Linear>(in, h));
    m->push_back(nn::make<nn::ReLU>());
    in = h;
  }
  m->push_back(nn::make<nn::Linear>(in, num_classes));
  return m;
}

}  // namespace ds::models
