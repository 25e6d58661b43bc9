#include "builders.h"

#include <ds/core/error.h>
#include <ds/data/data.h>
#include <ds/models/zoo.h>
#include <fmt/format.h>
#include <ds/optim/optim.h>

namespace ds::train {

std::shared_ptr<nn::Module> build_model(const ModelConfig& c, const data::SampleSpec& input) {
  const Shape& in = input.input_shape;
  const models::ZooEntry& e = models::zoo_entry(c.name);
  models::ModelArgs args = c.args;
  if (!args.has("num_classes")) args.set("num_classes", static_cast<double>(c.num_classes));
  if (c.name == "mlp") {
    int64_t features = 1;
    for (int64_t s : in) features *= s;
    if (!args.has("in_features")) args.set("in_features", static_cast<double>(features));
    if (!args.has("hidden")) args.set("hidden", std::vector<double>(c.hidden.begin(), c.hidden.end()));
    return e.create(args);
  }
  // Images: the channels the model takes, and at least its smallest size (LeNet-5: exactly 28x28).
  if (c.name == "lenet5" && !args.has("in_channels") && in.size() == 3)
    args.set("in_channels", static_cast<double>(in[0]));
  const int64_t channels = c.name == "lenet5" ? args.integer("in_channels", 1) : e.input_shape[0];
  if (in.size() != 3 || in[0] != channels)
    throw_error("ds-train", fmt::format("model '{}' needs images ({}, H, W), the data set gives {}", c.name, channels,
                                        shape_str(in)));
  if (c.name == "lenet5" && (in[1] != 28 || in[2] != 28))
    throw_error("ds-train", "model 'lenet5' needs 28x28 images, the data set gives " + shape_str(in));
  if (std::min(in[1], in[2]) < e.min_input_size)
    throw_error("ds-train", fmt::format("model '{}' needs images of at least {}x{}, the data set gives {}", c.name,
                                        e.min_input_size, e.min_input_size, shape_str(in)));
  return e.create(args);
}

// The vocabulary is the tokenizer's and the context model.block_size, whatever the model.
void check_text_args(const ModelConfig& c) {
  if (c.args.has("vocab_size") || c.args.has("block_size") || c.args.has("max_position_embeddings"))
    throw_error("config", "model '" + c.name + "': the vocabulary comes from data.tokenizer and the context from "
                                               "model.block_size; leave them out of model.args");
}

models::GPTConfig gpt_config(const ModelConfig& c, int64_t vocab_size) {
  check_text_args(c);
  if (c.name != "gpt") {  // a zoo config (gpt2, gpt3-small, ...) with its arguments
    models::GPTConfig g = models::gpt_config_with(models::GPTConfig::named(c.name), c.args);
    c.args.finish(c.name);
    g.vocab_size = vocab_size;
    g.block_size = c.block_size;
    return g;
  }
  c.args.finish("gpt (its sizes are model.n_layer, n_head, n_embd, block_size, dropout)");
  return {.vocab_size = vocab_size, .block_size = c.block_size, .n_layer = c.n_layer, .n_head = c.n_head,
          .n_embd = c.n_embd, .dropout = c.dropout};
}

models::BertConfig bert_config(const ModelConfig& c, int64_t vocab_size, int64_t pad_id) {
  check_text_args(c);
  if (c.name != "bert") {  // bert-base-uncased, ... with its arguments
    models::BertConfig b = models::bert_config_with(models::BertConfig::named(c.name), c.args);
    c.args.finish(c.name);
    b.vocab_size = vocab_size;
    b.max_position_embeddings = c.block_size;
    b.pad_token_id = pad_id;
    return b;
  }
  c.args.finish("bert (its sizes are model.n_layer, n_head, n_embd, block_size, dropout)");
  return {.vocab_size = vocab_size, .hidden_size = c.n_embd, .num_hidden_layers = c.n_layer,
          .num_attention_heads = c.n_head, .intermediate_size = 4 * c.n_embd, .max_position_embeddings = c.block_size,
          .pad_token_id = pad_id, .hidden_dropout_prob = c.dropout, .attention_probs_dropout_prob = c.dropout};
}

DataSets build_datasets(const DataConfig& c, int64_t num_classes, uint64_t seed) {
  if (c.dataset == "fashion_mnist") {
    if (num_classes != 10) throw_error("ds-train", "fashion_mnist has 10 classes, the model asks for " + std::to_string(num_classes));
    return {std::make_shared<data::FashionMNIST>(c.root, true), std::make_shared<data::FashionMNIST>(c.root, false)};
  }
  // One generated set split in two: the test examples come from the same classes (blob centres, image templates)
  // as the training ones, which a set generated from another seed would not share.
  const int64_t n = c.generated_size, n_test = std::max<int64_t>(n / 4, 1);
  const data::TensorDataset all = c.dataset == "blobs"
                                      ? data::make_blobs(n + n_test, num_classes, 16, seed)
                                      // Images (1, 28, 28) by default, shaped like Fashion-MNIST.
                                      : data::make_pattern_images(n + n_test, num_classes, c.image_channels,
                                                                  c.image_size, c.image_size, seed);
  auto part = [&](int64_t start, int64_t count) {
    return std::make_shared<data::TensorDataset>(all.inputs().narrow(0, start, count),
                                                 all.targets().narrow(0, start, count));
  };
  return {part(0, n), part(n, n_test)};
}

std::unique_ptr<data::DataLoader> build_loader(const DataConfig& c, std::shared_ptr<const data::Dataset> set, bool train,
                                               uint64_t seed, int replicas, int rank) {
  std::vector<data::TransformPtr> ts;
  if (train && c.random_crop_padding > 0) {
    const Shape& in = set->spec().input_shape;
    ts.push_back(std::make_shared<data::RandomCrop>(in[in.size() - 2], in.back(), c.random_crop_padding));
  }
  if (train && c.horizontal_flip > 0) ts.push_back(std::make_shared<data::RandomHorizontalFlip>(c.horizontal_flip));
  if (!c.normalize_mean.empty())
    ts.push_back(std::make_shared<data::Normalize>(std::vector<float>(c.normalize_mean.begin(), c.normalize_mean.end()),
                                                   std::vector<float>(c.normalize_std.begin(), c.normalize_std.end())));
  data::DataLoaderOptions o{.batch_size = train ? c.batch_size : c.eval_batch_size,
                            .shuffle = train && c.shuffle,
                            .seed = seed,
                            .drop_last = false,
                            .num_workers = c.num_workers,
                            .num_replicas = replicas,
                            .rank = rank};
  if (!ts.empty()) o.transform = ts.size() == 1 ? ts[0] : std::make_shared<data::Compose>(ts);
  return std::make_unique<data::DataLoader>(std::move(set), o);
}

std::unique_ptr<optim::Optimizer> build_optimizer(const OptimizerConfig& c, std::vector<optim::ParamGroup> params) {
  const double b1 = c.betas.empty() ? -1 : c.betas[0], b2 = c.betas.empty() ? -1 : c.betas[1];
  auto betas = [&](auto o) {
    if (b1 >= 0) {
      o.beta1 = b1;
      o.beta2 = b2;
    }
    return o;
  };
  if (c.name == "sgd")
    return std::make_unique<optim::SGD>(params, optim::SGDOptions{.lr = c.lr, .momentum = c.momentum,
                                                                  .weight_decay = c.weight_decay, .nesterov = c.nesterov});
  if (c.name == "adam")
    return std::make_unique<optim::Adam>(params, betas(optim::AdamOptions{.lr = c.lr, .eps = c.eps, .weight_decay = c.weight_decay}));
  if (c.name == "adamw")
    return std::make_unique<optim::AdamW>(params, betas(optim::AdamWOptions{.lr = c.lr, .eps = c.eps, .weight_decay = c.weight_decay}));
  if (c.name == "lamb")
    return std::make_unique<optim::LAMB>(params, betas(optim::LAMBOptions{.lr = c.lr, .eps = c.eps, .weight_decay = c.weight_decay}));
  return std::make_unique<optim::Lion>(params, betas(optim::LionOptions{.lr = c.lr, .weight_decay = c.weight_decay}));
}

std::unique_ptr<optim::LRScheduler> build_scheduler(const ScheduleConfig& c, optim::Optimizer& opt, double base_lr,
                                                    int64_t total_steps) {
  using optim::WarmupDecayLR;
  if (c.name == "constant")
    return c.warmup_steps > 0 ? std::make_unique<WarmupDecayLR>(opt, c.warmup_steps, total_steps, WarmupDecayLR::Decay::Constant)
                              : nullptr;
  if (c.name == "step") return std::make_unique<optim::StepLR>(opt, c.step_size, c.gamma);
  if (c.name == "multistep") return std::make_unique<optim::MultiStepLR>(opt, c.milestones, c.gamma);
  if (c.name == "exponential") return std::make_unique<optim::ExponentialLR>(opt, c.gamma);
  if (c.name == "cosine") return std::make_unique<optim::CosineAnnealingLR>(opt, total_steps, c.min_lr);
  if (c.name == "warmup_cosine")
    return std::make_unique<WarmupDecayLR>(opt, c.warmup_steps, total_steps, WarmupDecayLR::Decay::Cosine, c.min_lr);
  if (c.name == "warmup_linear")
    return std::make_unique<WarmupDecayLR>(opt, c.warmup_steps, total_steps, WarmupDecayLR::Decay::Linear, c.min_lr);
  return std::make_unique<optim::OneCycleLR>(opt, c.max_lr > 0 ? c.max_lr : base_lr, total_steps);
}

}  // namespace ds::train
