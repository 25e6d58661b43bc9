// Rows and front function of attention: scaled_dot_product_attention (out and the rows' logsumexp) and its backward
// (dq, dk, dv from the saved logsumexp, FlashAttention-2's recomputation; ops/cpu/attention.cpp). First derivatives
// go through the fused backward; a recorded backward (create_graph) uses the gradients' formulas in ds ops, so
// attention differentiates twice (without dropout).
//   q: (B, H, L, E) or (N, L, E)   k: (..., S, E)   v: (..., S, Ev)   mask: broadcasts to (..., L, S)
// Attrs of both: AttentionAttrs (scale, is_causal, dropout_p). With dropout, the Philox state (seed, offset) of the
// dropout mask is the last input of both (ops/rng_input.h), after the optional mask.
#include <cmath>

#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/linalg.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include <ds/ops/rng_input.h>
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

// The inputs after the fixed ones (q, k, v; or grad, q, k, v, out, lse): the mask, then with dropout the Philox state.
// Present inputs point into the call's; absent ones are null.
struct Extras {
  const Tensor* mask = nullptr;
  const Tensor* rng = nullptr;
};
Extras extras(const OpCall& c, size_t fixed, std::string_view inputs) {
  const bool dropout = c.attrs.get<AttentionAttrs>().dropout_p > 0;
  DS_CHECK(c.in.size() == fixed + dropout || c.in.size() == fixed + 1 + dropout, c.name,
           "expects {}, an optional mask and, with dropout, the Philox state; got {} inputs", inputs, c.in.size());
  return {c.in.size() > fixed + dropout ? &c.in[fixed] : nullptr, dropout ? &c.in.back() : nullptr};
}

// Checks q, k, v (and the mask) against each other; the shapes of the outputs follow from q and v.
void check_attention(const OpCall& c, const Tensor& q, const Tensor& k, const Tensor& v, const Extras& x) {
  const auto& a = c.attrs.get<AttentionAttrs>();
  const Tensor* mask = x.mask;
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
  DS_CHECK(a.dropout_p >= 0 && a.dropout_p < 1, c.name, "dropout_p must be in [0, 1), got {}", a.dropout_p);
  if (x.rng) rng_input::check(*x.rng, c.name);
  if (!mask) return;
  DS_CHECK(!a.is_causal, c.name, "takes is_causal or attn_mask, not both");
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

// in: q, k, v [, mask] [, Philox state (with dropout)] -> out, lse
void attention_rule(const OpCall& c, RuleResult& r) {
  const Extras x = extras(c, 3, "q, k, v");
  const Tensor &q = c.in[0], &k = c.in[1], &v = c.in[2];
  check_attention(c, q, k, v, x);
  Shape out(q.sizes().begin(), q.sizes().end());
  out.back() = v.size(-1);
  r.device = q.device();
  r.outs.push_back({out, q.dtype()});
  r.outs.push_back({Shape(q.sizes().begin(), q.sizes().end() - 1), q.dtype()});  // logsumexp of each query row
}

// in: grad_out, q, k, v, out, lse [, mask] [, Philox state (with dropout)] -> dq, dk, dv
void attention_backward_rule(const OpCall& c, RuleResult& r) {
  const Extras x = extras(c, 6, "grad, q, k, v, out, lse");
  const Tensor &g = c.in[0], &q = c.in[1], &k = c.in[2], &v = c.in[3];
  check_attention(c, q, k, v, x);
  Shape out(q.sizes().begin(), q.sizes().end());
  out.back() = v.size(-1);
  DS_CHECK(g.sizes() == out && g.dtype() == q.dtype() && g.stride(-1) == 1, c.name,
           "grad {} {} must match the output {} {} with a contiguous last dim", shape_str(g.sizes()),
           dtype_name(g.dtype()), shape_str(out), dtype_name(q.dtype()));
  DS_CHECK(c.in[4].is_contiguous() && c.in[5].is_contiguous(), c.name, "expects the saved out and lse contiguous");
  r.device = q.device();
  for (const Tensor* t : {&q, &k, &v}) r.outs.push_back({t->sizes(), t->dtype()});
}

// Whether the forward had a mask (input 3; the Philox state, with dropout, comes after it).
bool has_mask(const VjpCtx& c) {
  return c.in_sizes.size() == 4 + (c.attrs.get<AttentionAttrs>().dropout_p > 0 ? 1 : 0);
}

// The fused backward: one scaled_dot_product_attention_backward, from the saved logsumexp (and the forward's Philox
// state, so it sees the same dropout mask).
TensorList attention_vjp(const VjpCtx& c) {
  DS_CHECK(c.grad[0].defined(), "scaled_dot_product_attention", "the logsumexp output takes no gradient");
  const bool mask = has_mask(c), dropout = c.attrs.get<AttentionAttrs>().dropout_p > 0;
  Tensor g = c.grad[0].stride(-1) == 1 ? c.grad[0] : c.grad[0].contiguous();
  TensorList in{g, c.in[0], c.in[1], c.in[2], c.out[0], c.out[1]};
  if (mask) in.push_back(c.in[3]);
  if (dropout) in.push_back(c.in[c.in_sizes.size() - 1]);
  TensorList d = call_op(OpId::scaled_dot_product_attention_backward, in, c.attrs);
  d.resize(c.in_sizes.size());  // the mask and the Philox state take no gradient
  return d;
}

// The math definition's gradients in ds ops, for a recorded backward (create_graph): differentiable again.
TensorList attention_vjp_graph(const VjpCtx& c) {
  DS_CHECK(c.grad[0].defined(), "scaled_dot_product_attention", "the logsumexp output takes no gradient");
  const auto& a = c.attrs.get<AttentionAttrs>();
  DS_CHECK(a.dropout_p == 0, "scaled_dot_product_attention",
           "differentiating twice through attention dropout is not supported (dropout_p {})", a.dropout_p);
  const Tensor &g = c.grad[0], &q = c.in[0], &k = c.in[1], &v = c.in[2];
  const double scale = a.scale;
  Tensor s = matmul(q, k.transpose(-2, -1)) * scale;
  if (a.is_causal) s = masked_fill(s, triu(ones({q.size(-2), k.size(-2)}, {.dtype = kBool}), 1), -INFINITY);
  if (has_mask(c))
    s = c.in[3].dtype() == kBool ? masked_fill(s, logical_not(c.in[3]), -INFINITY) : s + c.in[3];
  const Tensor p = softmax(s, -1);
  const Tensor dp = matmul(g, v.transpose(-2, -1));
  const Tensor ds = p * (dp - sum(dp * p, {-1}, true)) * scale;
  TensorList d{matmul(ds, k), matmul(ds.transpose(-2, -1), q), matmul(p.transpose(-2, -1), g)};
  if (has_mask(c)) d.push_back(Tensor());
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
    .attrs = &attrs_schema<AttentionAttrs>, .rule = attention_rule, .cpu = cpu::scaled_dot_product_attention,
    .cuda = DS_CUDA_KERNEL(scaled_dot_product_attention), .cpu_dtypes = {kF32, kF64}, .cuda_dtypes = kFloatTypes,
    .vjp = attention_vjp, .vjp_graph = attention_vjp_graph, .save_in = 0b11111, .save_out = 0b11,
    .test = {.cases = attention_cases, .bad = attention_bad}};
DS_PRIMITIVE_ROW(scaled_dot_product_attention_backward) OpDef{.name = "scaled_dot_product_attention_backward",
    .attrs = &attrs_schema<AttentionAttrs>, .rule = attention_backward_rule,
    .cpu = cpu::scaled_dot_product_attention_backward, .cuda = DS_CUDA_KERNEL(scaled_dot_product_attention_backward),
    .cpu_dtypes = {kF32, kF64}, .cuda_dtypes = kFloatTypes};
// clang-format on

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const std::string_view op = "scaled_dot_product_attention";
  DS_CHECK(!o.attn_mask.defined() || !o.attn_mask.requires_grad(), op,
           "attn_mask takes no gradient; detach it (got a mask that requires grad)");
  DS_CHECK(q.dim() >= 1, op, "expects q (B, H, L, E) or (N, L, E), got {}", shape_str(q.sizes()));
  auto last_contiguous = [](const Tensor& t) { return t.dim() == 0 || t.stride(-1) == 1 ? t : t.contiguous(); };
  const double scale = o.scale.value_or(1 / std::sqrt(static_cast<double>(q.size(-1))));
  TensorList in{last_contiguous(q), last_contiguous(k), last_contiguous(v)};
  // A float mask of another precision is cast to q's (torch refuses it; a cast is what the user means).
  if (o.attn_mask.defined())
    in.push_back(o.attn_mask.dtype() == kBool || o.attn_mask.dtype() == q.dtype() || !is_floating(o.attn_mask.dtype())
                     ? o.attn_mask
                     : o.attn_mask.to(q.dtype()));
  // With dropout, the Philox state of its mask is the last input; none is drawn where the rule refuses the call
  // anyway (dropout_p of 1 or more, q or k with too few dims).
  if (o.dropout_p > 0) {
    if (o.dropout_p < 1 && q.dim() >= 3 && k.dim() >= 2) {
      Generator& g = o.generator ? *o.generator : default_generator();
      const uint64_t n = static_cast<uint64_t>(q.numel() / q.size(-1) * k.size(-2));
      in.push_back(rng_input::draw(g, (n + 3) / 4));
    } else {
      in.push_back(rng_input::make(PhiloxState{}));
    }
  }
  const AttentionAttrs attrs{.scale = scale, .is_causal = o.is_causal, .dropout_p = o.dropout_p};
  return call_op(OpId::scaled_dot_product_attention, in, attrs)[0];
}

namespace detail {
Tensor scaled_dot_product_attention_math(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  return attention_math(q, k, v, o);
}
}  // namespace detail

}  // namespace ds
