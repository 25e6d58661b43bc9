#include <ds/models/nlp/gpt.h>

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/models/nlp/detail/named_configs.h>
#include <ds/nn/init.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/linalg.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/shape_ops.h>

namespace ds::models {
namespace {

struct NamedConfig {
  std::string_view name;
  int64_t n_layer, n_head, n_embd, block_size;
};
// GPT-3's table 2.1 lists d_model 5140 for 13B and 24 heads of 128 for 1.3B, neither of which divides into heads;
// we use 5120 (40 x 128) and 16 heads of 128, as Megatron-LM and EleutherAI's replications do. GPT-3's alternating
// banded sparse attention is not modelled: every layer is dense.
constexpr NamedConfig kNamed[] = {
    {"gpt2", 12, 12, 768, 1024},         {"gpt2-medium", 24, 16, 1024, 1024}, {"gpt2-large", 36, 20, 1280, 1024},
    {"gpt2-xl", 48, 25, 1600, 1024},     {"gpt3-small", 12, 12, 768, 2048},   {"gpt3-medium", 24, 16, 1024, 2048},
    {"gpt3-large", 24, 16, 1536, 2048},  {"gpt3-xl", 24, 16, 2048, 2048},     {"gpt3-2.7b", 32, 32, 2560, 2048},
    {"gpt3-6.7b", 32, 32, 4096, 2048},   {"gpt3-13b", 40, 40, 5120, 2048},    {"gpt3-175b", 96, 96, 12288, 2048},
};

void check_config(const GPTConfig& c) {
  DS_CHECK(c.vocab_size > 0 && c.block_size > 0 && c.n_layer > 0 && c.n_head > 0 && c.n_embd > 0, "GPT",
           "vocab_size {}, block_size {}, n_layer {}, n_head {} and n_embd {} must be positive", c.vocab_size,
           c.block_size, c.n_layer, c.n_head, c.n_embd);
  DS_CHECK(c.n_embd % c.n_head == 0, "GPT", "n_embd {} is not a multiple of n_head {}", c.n_embd, c.n_head);
  DS_CHECK(c.dropout >= 0 && c.dropout < 1, "GPT", "dropout must be in [0, 1), got {}", c.dropout);
}

// GPT-2's initialisation: N(0, 0.02) for weights and embeddings, zero biases.
std::shared_ptr<nn::Linear> linear(int64_t in, int64_t out, bool bias, double std = 0.02) {
  auto l = nn::make<nn::Linear>(in, out, bias);
  nn::init::normal_(l->weight, 0, std);
  if (bias) nn::init::zeros_(l->bias);
  return l;
}
}  // namespace

int64_t GPTConfig::parameter_count() const {
  const int64_t C = n_embd, b = bias ? 1 : 0;
  const int64_t ln = C * (1 + b);
  const int64_t block = 2 * ln + (3 * C * C + 3 * C * b) + (C * C + C * b) + (4 * C * C + 4 * C * b) + (4 * C * C + C * b);
  return vocab_size * C + block_size * C + n_layer * block + ln;
}

double GPTConfig::flops_per_token(int64_t context) const {
  const double n = static_cast<double>(parameter_count() - block_size * n_embd);
  return 6 * n + 12.0 * static_cast<double>(n_layer * n_embd * context);
}

GPTConfig GPTConfig::named(std::string_view name) {
  const NamedConfig& n = detail::find_named(kNamed, name, "GPT");
  return {.block_size = n.block_size, .n_layer = n.n_layer, .n_head = n.n_head, .n_embd = n.n_embd};
}

std::vector<std::string> GPTConfig::names() { return detail::names_of(kNamed); }

CausalSelfAttention::CausalSelfAttention(const GPTConfig& c)
    : Module("CausalSelfAttention"), n_head_(c.n_head), dropout_(c.dropout) {
  c_attn = register_module("c_attn", linear(c.n_embd, 3 * c.n_embd, c.bias));
  // GPT-2 scales the residual projections by 1 / sqrt(2 n_layer): two per block add to the residual stream.
  c_proj = register_module("c_proj", linear(c.n_embd, c.n_embd, c.bias, 0.02 / std::sqrt(2.0 * c.n_layer)));
  resid_drop_ = register_module("resid_drop", nn::make<nn::Dropout>(c.dropout));
}

Tensor CausalSelfAttention::forward(const Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), D = C / n_head_;
  const Tensor qkv = (*c_attn)(x);  // (B, T, 3C)
  // (B, T, C) slices seen as (B, H, T, D): strided views, the kernel reads the heads in place.
  auto heads = [&](int64_t i) { return qkv.narrow(2, i * C, C).view({B, T, n_head_, D}).transpose(1, 2); };
  const Tensor y = scaled_dot_product_attention(heads(0), heads(1), heads(2),
                                                {.dropout_p = is_training() ? dropout_ : 0.0, .is_causal = true});
  return (*resid_drop_)((*c_proj)(y.transpose(1, 2).reshape({B, T, C})));
}

GPTMLP::GPTMLP(const GPTConfig& c) : Module("GPTMLP") {
  c_fc = register_module("c_fc", linear(c.n_embd, 4 * c.n_embd, c.bias));
  c_proj = register_module("c_proj", linear(4 * c.n_embd, c.n_embd, c.bias, 0.02 / std::sqrt(2.0 * c.n_layer)));
  drop_ = register_module("drop", nn::make<nn::Dropout>(c.dropout));
}

Tensor GPTMLP::forward(const Tensor& x) { return (*drop_)((*c_proj)(gelu_tanh((*c_fc)(x)))); }

GPTBlock::GPTBlock(const GPTConfig& c) : Module("GPTBlock") {
  ln_1 = register_module("ln_1", nn::make<nn::LayerNorm>(Shape{c.n_embd}, c.layer_norm_eps, true, c.bias));
  attn = register_module("attn", nn::make<CausalSelfAttention>(c));
  ln_2 = register_module("ln_2", nn::make<nn::LayerNorm>(Shape{c.n_embd}, c.layer_norm_eps, true, c.bias));
  mlp = register_module("mlp", nn::make<GPTMLP>(c));
}

Tensor GPTBlock::forward(const Tensor& x) {
  const Tensor y = x + (*attn)((*ln_1)(x));
  return y + (*mlp)((*ln_2)(y));
}

GPT::GPT(const GPTConfig& config) : Module("GPT"), config_(config) {
  check_config(config);
  wte = register_module("wte", nn::make<nn::Embedding>(config.vocab_size, config.n_embd));
  wpe = register_module("wpe", nn::make<nn::Embedding>(config.block_size, config.n_embd));
  nn::init::normal_(wte->weight, 0, 0.02);
  nn::init::normal_(wpe->weight, 0, 0.02);
  drop_ = register_module("drop", nn::make<nn::Dropout>(config.dropout));
  h = register_module("h", nn::make<nn::ModuleList>());
  for (int64_t i = 0; i < config.n_layer; ++i) h->push_back(nn::make<GPTBlock>(config));
  ln_f = register_module("ln_f", nn::make<nn::LayerNorm>(Shape{config.n_embd}, config.layer_norm_eps, true, config.bias));
}

Tensor GPT::forward(const Tensor& idx) {
  DS_CHECK(idx.dim() == 2 && !is_floating(idx.dtype()), "GPT", "expects token ids (B, T) of an integer dtype, got {} {}",
           shape_str(idx.sizes()), dtype_name(idx.dtype()));
  const int64_t T = idx.size(1);
  DS_CHECK(T <= config_.block_size, "GPT", "sequence length {} exceeds block_size {}", T, config_.block_size);
  const Tensor pos = arange(0, T, 1, TensorOptions{.dtype = kI64, .device = idx.device()});
  Tensor x = (*drop_)((*wte)(idx) + (*wpe)(pos));
  for (size_t i = 0; i < h->size(); ++i) x = (*(*h)[i])(x);
  // The head shares the token embedding's weight: logits = ln_f(x) @ wte^T.
  return linear((*ln_f)(x), wte->weight);
}

Tensor GPT::loss(const Tensor& idx, const Tensor& targets) {
  const Tensor logits = forward(idx);
  return cross_entropy(logits.flatten(0, 1), targets.flatten(), Reduction::Mean, -100);
}

std::shared_ptr<GPT> gpt(const GPTConfig& config) { return nn::make<GPT>(config); }
std::shared_ptr<GPT> gpt(std::string_view name) { return gpt(GPTConfig::named(name)); }

}  // namespace ds::models
