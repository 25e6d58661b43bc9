#pragma once
// The model zoo: every named model ds can build, one entry each, listed by `ds-models` (./ds models).
//
// Each family registers its rows from its own zoo.cpp: models/vision/zoo.cpp defines vision_zoo(), models/nlp/zoo.cpp
// nlp_zoo(). A new family declares its function below and joins the list of families in models/zoo.cpp.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <set>
#include <variant>
#include <vector>

#include <ds/nn/module.h>

namespace ds::models {

// Named arguments of a zoo model (ds-train's model.args): numbers, text, or lists of numbers. A factory reads the
// arguments it knows, each with its default; ZooEntry::create then refuses any argument nobody read, naming the
// ones the model takes. Errors: "[models] resnet18: argument 'width_mult' is unknown; resnet18 takes num_classes".
class ModelArgs {
 public:
  using Value = std::variant<double, std::string, std::vector<double>>;
  void set(const std::string& key, Value value) { values_[key] = std::move(value); }
  bool has(std::string_view key) const { return values_.find(key) != values_.end(); }
  bool empty() const { return values_.empty(); }
  // The value of key, or fallback when absent; a value of another kind is an error naming the key.
  int64_t integer(std::string_view key, int64_t fallback) const;  // a whole number
  double number(std::string_view key, double fallback) const;
  bool flag(std::string_view key, bool fallback) const;  // true/false, or 1/0
  std::vector<int64_t> integers(std::string_view key, std::vector<int64_t> fallback) const;
  // An error naming the first argument no read asked for, and the ones `model` takes.
  void finish(std::string_view model) const;

 private:
  const Value* lookup(std::string_view key) const;
  std::map<std::string, Value, std::less<>> values_;
  mutable std::set<std::string, std::less<>> asked_;  // every key a factory asked for
};

struct ZooEntry {
  std::string name;    // torchvision's or Hugging Face's name: "resnet50", "vgg16_bn", "gpt2", "bert-base-uncased"
  std::string family;  // "vision" or "nlp"
  // Parameter count of the default configuration, computed without building the model where it can be (configs
  // like GPT-3 175B are never built; the vision rows give torchvision's published count, which the tests check
  // against the built model).
  std::function<int64_t()> parameter_count;
  // Builds the model from its arguments (none: the default configuration, ImageNet's 1000 classes for the vision
  // models; vision models take num_classes, some more such as width_mult; GPT and BERT take their config fields).
  // Empty for configs too big to build. Prefer create(), which also checks that every argument was used.
  std::function<std::shared_ptr<nn::Module>(const ModelArgs&)> make;
  std::shared_ptr<nn::Module> create(const ModelArgs& args = {}) const;
  // One sample's native input, without the batch dim: (C, H, W) images for vision, (T) token ids for text.
  Shape input_shape;
  // Smallest spatial size (H = W) the vision architecture admits; 0 where it does not apply.
  int64_t min_input_size = 0;
};

// The rows of each family.
std::vector<ZooEntry> vision_zoo();
std::vector<ZooEntry> nlp_zoo();

// A named GPT or BERT config with the arguments' overrides: GPT takes vocab_size, block_size, n_layer, n_head,
// n_embd, dropout, layer_norm_eps, bias; BERT its config's field names (hidden_size, num_hidden_layers, ...).
struct GPTConfig;
struct BertConfig;
GPTConfig gpt_config_with(GPTConfig base, const ModelArgs& args);
BertConfig bert_config_with(BertConfig base, const ModelArgs& args);

// Every row, vision first, then nlp, in each family's order. Built once.
const std::vector<ZooEntry>& zoo();
// The entry named `name`; an error listing the known names when there is none.
const ZooEntry& zoo_entry(std::string_view name);

}  // namespace ds::models
