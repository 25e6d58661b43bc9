#pragma once
// GPT (Radford et al. 2019, Brown et al. 2020) as GPT-2 builds it: a pre-LN transformer decoder with learned
// positions, GELU (tanh approximation) MLPs of width 4C and the LM head tied to the token embedding.
//   idx: (B, T) int64, T <= block_size -> logits (B, T, vocab_size)
// State-dict names follow nanoGPT (wte, wpe, h.{i}.attn.c_attn, ...; models/nlp/hf_weights.h maps Hugging Face's
// "transformer." names and Conv1D layouts onto them). gpt2: 124,439,808 parameters.
#include <string>
#include <string_view>
#include <vector>

#include <ds/nn/activation.h>
#include <ds/nn/container.h>
#include <ds/nn/linear.h>
#include <ds/nn/normalization.h>

namespace ds::models {

struct GPTConfig {
  int64_t vocab_size = 50257;
  int64_t block_size = 1024;  // the longest context (number of learned positions)
  int64_t n_layer = 12, n_head = 12, n_embd = 768;
  double dropout = 0.0;       // embeddings, attention weights and residual branches, in training mode
  double layer_norm_eps = 1e-5;
  bool bias = true;           // biases in the Linear and LayerNorm layers (GPT-2: yes)

  // The parameter count of GPT(config), computed without allocating (the tied head counted once).
  int64_t parameter_count() const;
  // Training FLOPs per token, forward and backward, as nanoGPT and the MFU literature count them: 6 N (N without the
  // position embedding) + 12 n_layer n_embd T for the attention scores and weighted sums at context T.
  double flops_per_token(int64_t context) const;
  // gpt2, gpt2-medium, gpt2-large, gpt2-xl (Hugging Face's names) and gpt3-small ... gpt3-175b (Brown et al.,
  // table 2.1, context 2048); an unknown name is an error that lists the known ones.
  static GPTConfig named(std::string_view name);
  static std::vector<std::string> names();
};

// Causal self-attention: one packed projection c_attn (C -> 3C), heads through scaled_dot_product_attention,
// output projection c_proj. x: (B, T, C) -> (B, T, C).
class CausalSelfAttention : public nn::Module {
 public:
  explicit CausalSelfAttention(const GPTConfig& c);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Linear> c_attn, c_proj;

 private:
  int64_t n_head_;
  double dropout_;
  std::shared_ptr<nn::Dropout> resid_drop_;
};

// x: (B, T, C) -> (B, T, C): c_fc (C -> 4C), GELU (tanh), c_proj (4C -> C), dropout.
class GPTMLP : public nn::Module {
 public:
  explicit GPTMLP(const GPTConfig& c);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Linear> c_fc, c_proj;

 private:
  std::shared_ptr<nn::Dropout> drop_;
};

// x + attn(ln_1(x)), then + mlp(ln_2(x)).
class GPTBlock : public nn::Module {
 public:
  explicit GPTBlock(const GPTConfig& c);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<CausalSelfAttention> attn;
  std::shared_ptr<GPTMLP> mlp;
};

class GPT : public nn::Module {
 public:
  explicit GPT(const GPTConfig& config);
  // idx: (B, T) int64 -> logits (B, T, vocab_size).
  Tensor forward(const Tensor& idx) override;
  // Mean cross-entropy of forward(idx) against targets (B, T) int64; targets of -100 are ignored.
  Tensor loss(const Tensor& idx, const Tensor& targets);
  const GPTConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> wte, wpe;
  std::shared_ptr<nn::ModuleList> h;
  std::shared_ptr<nn::LayerNorm> ln_f;

 private:
  GPTConfig config_;
  std::shared_ptr<nn::Dropout> drop_;
};

std::shared_ptr<GPT> gpt(const GPTConfig& config);
std::shared_ptr<GPT> gpt(std::string_view name);

}  // namespace ds::models
