#pragma once
// MultiheadAttention, as torch.nn.MultiheadAttention (separate q, k, v inputs, one packed input projection).
#include <ds/nn/linear.h>

namespace ds::nn {

struct MultiheadAttentionOptions {
  double dropout = 0.0;   // on the attention weights, in training mode
  bool bias = true;
  bool batch_first = false;  // inputs (N, L, E) instead of torch's default (L, N, E)
};

class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, const MultiheadAttentionOptions& o = {});
  struct Output {
    Tensor output;   // like query
    Tensor weights;  // (N, L, S), averaged over heads; undefined unless need_weights
  };
  // query (L, N, E), key and value (S, N, E) (or batch first). key_padding_mask (N, S) bool: true = ignore that key.
  // attn_mask (L, S) or (N * heads, L, S): bool (true = not allowed) or float (added to the scores).
  Output forward(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& key_padding_mask = {},
                 const Tensor& attn_mask = {}, bool need_weights = true);
  // need_weights = false runs the fused scaled_dot_product_attention kernel (a query with every key masked then
  // gives zeros, where the weights path gives NaN as torch does).
  // Self-attention: forward(x, x, x).output, through the fused kernel.
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Tensor in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;

 private:
  int64_t embed_dim_, num_heads_;
  MultiheadAttentionOptions o_;
};

}  // namespace ds::nn
