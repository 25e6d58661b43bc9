#pragma once
// The model zoo: every named model ds can build, one entry each, listed by `ds-models` (./ds models).
//
// Each family registers its rows from its own zoo.cpp: models/vision/zoo.cpp defines vision_zoo(), models/nlp/zoo.cpp
// nlp_zoo(). A new family declares its function below and joins the list of families in models/zoo.cpp.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ds/nn/module.h>

namespace ds::models {

struct ZooEntry {
  std::string name;    // torchvision's or Hugging Face's name: "resnet50", "vgg16_bn", "gpt2", "bert-base-uncased"
  std::string family;  // "vision" or "nlp"
  // Parameter count of the default configuration, computed without building the model where it can be (configs
  // like GPT-3 175B are never built; the vision rows give torchvision's published count, which the tests check
  // against the built model).
  std::function<int64_t()> parameter_count;
  // Builds the default configuration (ImageNet's 1000 classes for the vision models); empty for configs too big
  // to build.
  std::function<std::shared_ptr<nn::Module>()> make;
  // One sample's native input, without the batch dim: (C, H, W) images for vision, (T) token ids for text.
  Shape input_shape;
  // Smallest spatial size (H = W) the vision architecture admits; 0 where it does not apply.
  int64_t min_input_size = 0;
};

// The rows of each family.
std::vector<ZooEntry> vision_zoo();
std::vector<ZooEntry> nlp_zoo();

// Every row, vision first, then nlp, in each family's order. Built once.
const std::vector<ZooEntry>& zoo();
// The entry named `name`; an error listing the known names when there is none.
const ZooEntry& zoo_entry(std::string_view name);

}  // namespace ds::models
