#include <ds/nn/attention.h>

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/nn/init.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/linalg.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

namespace ds::nn {

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads, const MultiheadAttentionOptions& o)
    : Module("MultiheadAttention"), embed_dim_(embed_dim), num_heads_(num_heads), o_(o) {
  DS_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0, "MultiheadAttention",
           "embed_dim {} must be divisible by num_heads {}", embed_dim, num_heads);
  in_proj_weight = empty({3 * embed_dim, embed_dim});
  register_parameter("in_proj_weight", in_proj_weight);
  if (o.bias) in_proj_bias = zeros({3 * embed_dim});
  register_parameter("in_proj_bias", in_proj_bias);
  out_proj = register_module("out_proj", make<Linear>(embed_dim, embed_dim, o.bias));
  init::xavier_uniform_(in_proj_weight);
  if (o.bias) init::zeros_(out_proj->bias);
}

MultiheadAttention::Output MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                       const Tensor& key_padding_mask, const Tensor& attn_mask,
                                                       bool need_weights) {
  const std::string_view op = "MultiheadAttention";
  DS_CHECK(query.dim() == 3 && key.dim() == 3 && value.dim() == 3, op,
           "expects 3-d query, key and value, got {}, {}, {}", shape_str(query.sizes()), shape_str(key.sizes()),
           shape_str(value.sizes()));
  // Work in (N, L, E).
  const Tensor q_in = o_.batch_first ? query : query.transpose(0, 1);
  const Tensor k_in = o_.batch_first ? key : key.transpose(0, 1);
  const Tensor v_in = o_.batch_first ? value : value.transpose(0, 1);
  const int64_t N = q_in.size(0), L = q_in.size(1), S = k_in.size(1), E = embed_dim_, H = num_heads_, D = E / H;
  DS_CHECK(q_in.size(2) == E && k_in.size(2) == E && v_in.size(2) == E, op, "expects embedding size {}, got {}, {}, {}",
           E, shape_str(query.sizes()), shape_str(key.sizes()), shape_str(value.sizes()));
  DS_CHECK(k_in.size(0) == N && v_in.size(0) == N && v_in.size(1) == S, op,
           "key {} and value {} do not match query {} in batch or length", shape_str(key.sizes()),
           shape_str(value.sizes()), shape_str(query.sizes()));
  const std::vector<Tensor> w = split(in_proj_weight, E, 0);
  std::vector<Tensor> b(3);
  if (in_proj_bias.defined()) b = split(in_proj_bias, E, 0);
  auto heads = [&](const Tensor& x, int i, int64_t len) {  // (N, len, E) -> (N, H, len, D)
    return linear(x, w[static_cast<size_t>(i)], b[static_cast<size_t>(i)]).reshape({N, len, H, D}).transpose(1, 2);
  };
  const Tensor q = heads(q_in, 0, L), k = heads(k_in, 1, S), v = heads(v_in, 2, S);
  // Masks in torch's MHA convention (bool true = ignore, float = added), combined into one that broadcasts to
  // (N, H, L, S).
  Tensor mask;
  if (attn_mask.defined()) {
    mask = attn_mask;
    if (mask.dim() == 3) {
      DS_CHECK(mask.size(0) == N * H, op, "a 3-d attn_mask must be (N * num_heads, L, S) = ({}, {}, {}), got {}", N * H,
               L, S, shape_str(mask.sizes()));
      mask = mask.reshape({N, H, L, S});
    } else {
      DS_CHECK(mask.dim() == 2 && mask.size(0) == L && mask.size(1) == S, op, "attn_mask must be (L, S) = ({}, {}), got {}",
               L, S, shape_str(mask.sizes()));
    }
    if (mask.dtype() != kBool) mask = mask.to(q.dtype());
  }
  if (key_padding_mask.defined()) {
    DS_CHECK(key_padding_mask.dim() == 2 && key_padding_mask.size(0) == N && key_padding_mask.size(1) == S, op,
             "key_padding_mask must be (N, S) = ({}, {}), got {}", N, S, shape_str(key_padding_mask.sizes()));
    const Tensor pad = key_padding_mask.to(kBool).reshape({N, 1, 1, S});
    if (!mask.defined()) mask = pad;
    else if (mask.dtype() == kBool) mask = logical_or(mask, pad);
    else mask = mask + masked_fill(zeros({N, 1, 1, S}, {.dtype = mask.dtype()}), pad, -INFINITY);
  }
  Tensor ctx, attn;
  if (need_weights) {  // the weights are asked for: the math path, which forms them
    Tensor scores = matmul(q, k.mT()) * (1.0 / std::sqrt(static_cast<double>(D)));  // (N, H, L, S)
    if (mask.defined()) scores = mask.dtype() == kBool ? masked_fill(scores, mask, -INFINITY) : scores + mask;
    attn = softmax(scores, -1);
    if (o_.dropout > 0) attn = dropout(attn, o_.dropout, is_training());
    ctx = matmul(attn, v);
  } else {  // the fused kernel (true = may attend there)
    const Tensor allowed = mask.defined() && mask.dtype() == kBool ? logical_not(mask) : mask;
    ctx = scaled_dot_product_attention(q, k, v, {.attn_mask = allowed, .dropout_p = is_training() ? o_.dropout : 0.0});
  }
  Tensor out = (*out_proj)(ctx.transpose(1, 2).reshape({N, L, E}));
  if (!o_.batch_first) out = out.transpose(0, 1);
  return {out, need_weights ? mean(attn, {1}) : Tensor()};
}

Tensor MultiheadAttention::forward(const Tensor& x) { return forward(x, x, x, {}, {}, false).output; }

std::string MultiheadAttention::extra_repr() const {
  return fmt::format("embed_dim={}, num_heads={}, dropout={}, batch_first={}", embed_dim_, num_heads_, o_.dropout,
                     o_.batch_first ? "True" : "False");
}

}  // namespace ds::nn
