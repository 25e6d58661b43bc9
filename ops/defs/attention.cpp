// Rows and front function of attention: scaled_dot_product_attention (out and the rows' logsumexp) and its backward
// (dq, dk, dv from the saved logsumexp, FlashAttention-2's recomputation; ops/cpu/attention.cpp). First derivatives
// go through the fused backward; a recorded backward (create_graph) uses the gradients' formulas in ds ops, so
// attention differentiates twice (without dropout).
//   q: (B, H, L, E) or (N, L, E)   k: (..., S, E)   v: (..., S, Ev)   mask: broadcasts to (..., L, S)
// Attrs of both: scale, is_causal, dropout_p, seed, offset (the Philox counters of the dropout mask).
#include <cmath>

#include <ds/core/grad_mode.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/linalg.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

#include "../cpu/kernels.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

// Checks q, k, v (and the mask) against each other; the shapes of the outputs follow from q and v.
void check_attention(const OpCall& c, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask) {
  DS_CHECK(q.dim() == 3 || q.dim() == 4, c.name, "expects q (B, H, L, E) or (N, L, E), got {}", shape_str(q.sizes()));
  DS_CHECK(k.dim() == q.dim() && v.dim() == q.dim(), c.name, "q {}, k {} and v {} must have the same number of dims",
           shape_str(q.sizes()), shape_str(k.sizes()), shape_str(v.sizes()));
  for (int64_t d = 0; d < q.dim() - 2; ++d)
    DS_CHECK(k.size(d) == q.size(d) && v.size(d) == q.size(d), c.name,
             "batch and head dims of q {}, k {} and v {} differ", shape_str(q.sizes()), shape_str(k.sizes()),
             shape_str(v.sizes()));
  DS_CHECK(k.size(-1) == q.size(-1), c.name, "q {} and k {} differ in the embedding dim", shape_str(q.sizes()),
           shape_str(k.sizes()));
  DS_CHECK(k.size(-2) == v.size(-2), c.name, "k {} and v {} differ in the number of keys", shape_str(k.sizes()),
           shape_str(v.sizes()));
  DS_CHECK(is_floating(q.dtype()) && k.dtype() == q.dtype() && v.dtype() == q.dtype(), c.name,
           "expects q, k, v of one floating dtype, got {}, {}, {}", dtype_name(q.dtype()), dtype_name(k.dtype()),
           dtype_name(v.dtype()));
  for (const Tensor* t : {&q, &k, &v})
    DS_CHECK(t->stride(-1) == 1, c.name, "expects a contiguous last dim, got strides {}", shape_str(t->strides()));
  DS_CHECK(c.attrs.f(2) >= 0 && c.attrs.f(2) < 1, c.name, "dropout_p must be in [0, 1), got {}", c.attrs.f(2));
  if (!mask) return;
  DS_CHECK(!c.attrs.b(1), c.name, "takes is_causal or attn_mask, not both");
  DS_CHECK(mask->dtype() == kBool || mask->dtype() == q.dtype(), c.name,
           "attn_mask must be bool or q's dtype {}, got {}", dtype_name(q.dtype()), dtype_name(mask->dtype()));
  const Shape full = [&] {
    Shape s(q.sizes().begin(), q.sizes().end() - 1);
    s.push_back(k.size(-2));
    return s;
  }();
  bool fits = mask->dim() <= q.dim();
  for (int64_t d = 0; fits && d < mask->dim(); ++d) {
    const int64_t have = mask->size(d), want = full[full.size() - mask->dim() + d];
    fits = have == want || have == 1;
  }
  DS_CHECK(fits, c.name, "attn_mask {} does not broadcast to the scores {}", shape_str(mask->sizes()), shape_str(full));
}

void attention_rule(const OpCall& c, RuleResult& r) {
  DS_CHECK(c.in.size() == 3 || c.in.size() == 4, c.name, "expects q, k, v and an optional mask, got {} inputs",
           c.in.size());
  const Tensor &q = c.in[0], &k = c.in[1], &v = c.in[2];
  check_attention(c, q, k, v, c.in.size() == 4 ? &c.in[3] : nullptr);
  Shape out(q.sizes().begin(), q.sizes().end());
  out.back() = v.size(-1);
  r.device = q.device();
  r.outs.push_back({out, q.dtype()});
  r.outs.push_back({Shape(q.sizes().begin(), q.sizes().end() - 1), q.dtype()});  // logsumexp of each query row
}

// in: grad_out, q, k, v, out, lse [, mask] -> dq, dk, dv
void attention_backward_rule(const OpCall& c, RuleResult& r) {
  DS_CHECK(c.in.size() == 6 || c.in.size() == 7, c.name, "expects grad, q, k, v, out, lse and an optional mask");
  const Tensor &g = c.in[0], &q = c.in[1], &k = c.in[2], &v = c.in[3];
  check_attention(c, q, k, v, c.in.size() == 7 ? &c.in[6] : nullptr);
  Shape out(q.sizes().begin(), q.sizes().end());
  out.back() = v.size(-1);
  DS_CHECK(g.sizes() == out && g.dtype() == q.dtype() && g.stride(-1) == 1, c.name,
           "grad {} {} must match the output {} {} with a contiguous last dim", shape_str(g.sizes()),
           dtype_name(g.dtype()), shape_str(out), dtype_name(q.dtype()));
  DS_CHECK(c.in[4].is_contiguous() && c.in[5].is_contiguous(), c.name, "expects the saved out and lse contiguous");
  r.device = q.device();
  for (const Tensor* t : {&q, &k, &v}) r.outs.push_back({t->sizes(), t->dtype()});
}

// The math definition's gradients in ds ops, for a recorded backward (create_graph): differentiable again.
TensorList attention_vjp_math(const VjpCtx& c) {
  DS_CHECK(c.attrs.f(2) == 0, "scaled_dot_product_attention",
           "differentiating twice through attention dropout is not supported (dropout_p {})", c.attrs.f(2));
  const Tensor &g = c.grad[0], &q = c.in[0], &k = c.in[1], &v = c.in[2];
  const double scale = c.attrs.f(0);
  Tensor s = matmul(q, k.transpose(-2, -1)) * scale;
  if (c.attrs.b(1)) s = masked_fill(s, triu(ones({q.size(-2), k.size(-2)}, {.dtype = kBool}), 1), -INFINITY);
  if (c.in_sizes.size() == 4)
    s = c.in[3].dtype() == kBool ? masked_fill(s, logical_not(c.in[3]), -INFINITY) : s + c.in[3];
  const Tensor p = softmax(s, -1);
  const Tensor dp = matmul(g, v.transpose(-2, -1));
  const Tensor ds = p * (dp - sum(dp * p, {-1}, true)) * scale;
  TensorList d{matmul(ds, k), matmul(ds.transpose(-2, -1), q), matmul(p.transpose(-2, -1), g)};
  if (c.in_sizes.size() == 4) d.push_back(Tensor());
  return d;
}

TensorList attention_vjp(const VjpCtx& c) {
  DS_CHECK(c.grad[0].defined(), "scaled_dot_product_attention", "the logsumexp output takes no gradient");
  if (is_grad_enabled()) return attention_vjp_math(c);
  Tensor g = c.grad[0].stride(-1) == 1 ? c.grad[0] : c.grad[0].contiguous();
  TensorList in{g, c.in[0], c.in[1], c.in[2], c.out[0], c.out[1]};
  if (c.in_sizes.size() == 4) in.push_back(c.in[3]);
  TensorList d = call_op(OpId::scaled_dot_product_attention_backward, in, c.attrs);
  if (c.in_sizes.size() == 4) d.push_back(Tensor());  // the mask takes no gradient
  return d;
}

// The math definition in ds ops: the reference the kernel is tested against (no dropout).
Tensor attention_math(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  Tensor s = matmul(q, k.transpose(-2, -1)) * o.scale.value_or(1 / std::sqrt(static_cast<double>(q.size(-1))));
  if (o.is_causal) s = masked_fill(s, triu(ones({q.size(-2), k.size(-2)}, {.dtype = kBool}), 1), -INFINITY);
  if (o.attn_mask.defined())
    s = o.attn_mask.dtype() == kBool ? masked_fill(s, logical_not(o.attn_mask), -INFINITY) : s + o.attn_mask;
  return matmul(softmax(s, -1), v);
}

using samples::make1;
using samples::uniform;

Tensor sdpa(const TensorList& x, const AttentionOptions& o = {}) {
  return scaled_dot_product_attention(x[0], x[1], x[2], o);
}

std::vector<OpCase> attention_cases(DType dt) {
  auto qkv = [&](Shape q, Shape kv, uint64_t seed) {
    Shape v = kv;
    return TensorList{uniform(q, dt, -1, 1, seed), uniform(kv, dt, -1, 1, seed + 1), uniform(v, dt, -1, 1, seed + 2)};
  };
  const Tensor pad = [] {  // (B=2, 1, 1, S=5): the second sequence has its last two keys padded
    Tensor m = ones({2, 1, 1, 5}, {.dtype = kBool});
    m.select(0, 1).narrow(-1, 3, 2).fill_(0);
    return m;
  }();
  auto v = std::vector<OpCase>{
      make1("(B, H, L, E) self-attention", qkv({2, 2, 4, 3}, {2, 2, 4, 3}, 1), [](const TensorList& x) { return sdpa(x); }),
      make1("3-d, L != S, Ev != E", {uniform({2, 3, 4}, dt, -1, 1, 4), uniform({2, 5, 4}, dt, -1, 1, 5), uniform({2, 5, 2}, dt, -1, 1, 6)},
            [](const TensorList& x) { return sdpa(x); }),
      make1("causal", qkv({1, 2, 5, 3}, {1, 2, 5, 3}, 7), [](const TensorList& x) { return sdpa(x, {.is_causal = true}); }),
      make1("causal, more keys than queries", qkv({1, 1, 3, 2}, {1, 1, 6, 2}, 10), [](const TensorList& x) { return sdpa(x, {.is_causal = true}); }),
      make1("padding mask (bool)", qkv({2, 2, 3, 4}, {2, 2, 5, 4}, 13), [pad](const TensorList& x) { return sdpa(x, {.attn_mask = pad}); }),
      make1("additive float mask, scale 0.7", qkv({1, 2, 3, 2}, {1, 2, 4, 2}, 16), [dt](const TensorList& x) {
        return sdpa(x, {.attn_mask = uniform({3, 4}, dt, -2, 0, 19), .scale = 0.7}); }),
      make1("heads of a (B, T, H, D) projection (strided)", {uniform({2, 4, 3, 2}, dt, -1, 1, 20).transpose(1, 2),
            uniform({2, 4, 3, 2}, dt, -1, 1, 21).transpose(1, 2), uniform({2, 4, 3, 2}, dt, -1, 1, 22).transpose(1, 2)},
            [](const TensorList& x) { return sdpa(x, {.is_causal = true}); }),
      make1("300 keys: two key blocks, online softmax", qkv({1, 1, 70, 2}, {1, 1, 300, 2}, 23), [](const TensorList& x) {
        return sdpa(x, {.scale = 3.0}); }),
      make1("dropout 0.3 (a fixed generator: the same mask every call)", qkv({1, 2, 4, 3}, {1, 2, 6, 3}, 26), [](const TensorList& x) {
        Generator g(11);
        return sdpa(x, {.dropout_p = 0.3, .generator = &g}); }),
      // q = 1, keys 0 and ln 3 (scale 1): weights 1/4 and 3/4 on values 4 and 8 -> 7
      make1("hand-computed", {full({1, 1, 1}, 1.0, {.dtype = dt}), tensor({0.0, std::log(3.0)}, TensorOptions{.dtype = dt}).reshape({1, 2, 1}),
            tensor({4.0, 8.0}, TensorOptions{.dtype = dt}).reshape({1, 2, 1})}, [](const TensorList& x) { return sdpa(x, {.scale = 1.0}); })};
  v.back().expected = {{7}};
  return v;
}

std::vector<BadCase> attention_bad() {
  return {samples::bad("2-d q", [] { scaled_dot_product_attention(ones({2, 3}), ones({2, 3}), ones({2, 3})); }, "expects q (B, H, L, E)"),
          samples::bad("E differs", [] { scaled_dot_product_attention(ones({1, 2, 3}), ones({1, 2, 4}), ones({1, 2, 4})); }, "embedding dim"),
          samples::bad("k and v lengths", [] { scaled_dot_product_attention(ones({1, 2, 3}), ones({1, 2, 3}), ones({1, 4, 3})); }, "number of keys"),
          samples::bad("mask shape", [] {
            scaled_dot_product_attention(ones({1, 2, 3}), ones({1, 4, 3}), ones({1, 4, 3}), {.attn_mask = ones({3}, {.dtype = kBool})});
          }, "does not broadcast"),
          samples::bad("causal and mask", [] {
            scaled_dot_product_attention(ones({1, 2, 3}), ones({1, 2, 3}), ones({1, 2, 3}), {.attn_mask = ones({2, 2}), .is_causal = true});
          }, "not both"),
          samples::bad("integer inputs", [] {
            scaled_dot_product_attention(ones({1, 2, 3}, {.dtype = kI64}), ones({1, 2, 3}, {.dtype = kI64}), ones({1, 2, 3}, {.dtype = kI64}));
          }, "floating dtype"),
          samples::bad("dropout 1", [] { scaled_dot_product_attention(ones({1, 2, 3}), ones({1, 2, 3}), ones({1, 2, 3}), {.dropout_p = 1}); }, "dropout_p"),
          samples::bad("grad into the mask", [] {
            scaled_dot_product_attention(ones({1, 2, 3}), ones({1, 2, 3}), ones({1, 2, 3}), {.attn_mask = ones({2, 2}, {.requires_grad = true})});
          }, "no gradient")};
}

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(scaled_dot_product_attention) OpDef{.name = "scaled_dot_product_attention",
    .attr_names = {"scale", "is_causal", "dropout_p", "seed", "offset"}, .rule = attention_rule,
    .cpu = cpu::scaled_dot_product_attention, .vjp = attention_vjp, .save_in = 0b1111, .save_out = 0b11,
    .test = {.cases = attention_cases, .bad = attention_bad, .cpu_dtypes = {kF32, kF64}}};
DS_PRIMITIVE_ROW(scaled_dot_product_attention_backward) OpDef{.name = "scaled_dot_product_attention_backward",
    .attr_names = {"scale", "is_causal", "dropout_p", "seed", "offset"}, .rule = attention_backward_rule,
    .cpu = cpu::scaled_dot_product_attention_backward, .test = {.cpu_dtypes = {kF32, kF64}}};
// clang-format on

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const std::string_view op = "scaled_dot_product_attention";
  DS_CHECK(!o.attn_mask.defined() || !o.attn_mask.requires_grad(), op,
           "attn_mask takes no gradient; detach it (got a mask that requires grad)");
  DS_CHECK(q.dim() >= 1, op, "expects q (B, H, L, E) or (N, L, E), got {}", shape_str(q.sizes()));
  auto last_contiguous = [](const Tensor& t) { return t.dim() == 0 || t.stride(-1) == 1 ? t : t.contiguous(); };
  const double scale = o.scale.value_or(1 / std::sqrt(static_cast<double>(q.size(-1))));
  uint64_t seed = 0, offset = 0;
  if (o.dropout_p > 0 && o.dropout_p < 1 && q.dim() >= 3 && k.dim() >= 2) {
    Generator& g = o.generator ? *o.generator : default_generator();
    const uint64_t n = static_cast<uint64_t>(q.numel() / q.size(-1) * k.size(-2));
    const PhiloxState s = g.reserve((n + 3) / 4);
    seed = s.seed;
    offset = s.offset;
  }
  TensorList in{last_contiguous(q), last_contiguous(k), last_contiguous(v)};
  // A float mask of another precision is cast to q's (torch refuses it; a cast is what the user means).
  if (o.attn_mask.defined())
    in.push_back(o.attn_mask.dtype() == kBool || o.attn_mask.dtype() == q.dtype() || !is_floating(o.attn_mask.dtype())
                     ? o.attn_mask
                     : o.attn_mask.to(q.dtype()));
  const Attrs attrs{scale, o.is_causal, o.dropout_p, static_cast<int64_t>(seed), static_cast<int64_t>(offset)};
  return call_op(OpId::scaled_dot_product_attention, in, attrs)[0];
}

namespace detail {
Tensor scaled_dot_product_attention_math(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  return attention_math(q, k, v, o);
}
}  // namespace detail

}  // namespace ds
