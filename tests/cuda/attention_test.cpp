// scaled_dot_product_attention on CUDA against the CPU kernel at a GPT head's shape (head dim 64, 200 positions),
// causal, with bool and additive masks, with dropout (the same Philox mask on both devices for a seed), in f32 and
// f16 (the CPU computes the f16 inputs in f32), forward and backward.
#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "cuda_test_util.h"

using namespace ds;

namespace {

// Forward and gradients of sum(out * up) on both devices from the same values; inputs in dtype dt on the GPU.
void check_attention(const Tensor& q, const Tensor& k, const Tensor& v, AttentionOptions o, DType dt, double tol) {
  Generator cpu_gen(77), gpu_gen(77);
  Generator g(5);
  const Tensor up = randn({q.size(0), q.size(1), q.size(2), v.size(3)}, {}, &g);
  // The CPU computes in f32 from the values the GPU sees in dt.
  const auto leaf = [&](const Tensor& t, Device d) { return t.to(dt).to(d).to(d.is_cpu() ? kF32 : dt).clone().requires_grad_(); };
  Tensor qc = leaf(q, kCPU), kc = leaf(k, kCPU), vc = leaf(v, kCPU);
  Tensor qg = leaf(q, kCUDA), kg = leaf(k, kCUDA), vg = leaf(v, kCUDA);
  AttentionOptions oc = o, og = o;
  oc.generator = &cpu_gen;
  og.generator = &gpu_gen;
  if (o.attn_mask.defined()) og.attn_mask = o.attn_mask.to(kCUDA);
  const Tensor yc = scaled_dot_product_attention(qc, kc, vc, oc);
  const Tensor yg = scaled_dot_product_attention(qg, kg, vg, og);
  check_cuda_close(yg, yc, tol);
  (yc * up).sum().backward();
  (yg * up.to(dt).to(kCUDA)).sum().backward();
  check_cuda_close(qg.grad(), qc.grad(), tol);
  check_cuda_close(kg.grad(), kc.grad(), tol);
  check_cuda_close(vg.grad(), vc.grad(), tol);
}
}  // namespace

TEST_CASE("cuda attention: causal, masked and dropped out, f32 and f16, forward and backward", "[cuda][autograd]") {
  Generator g(41);
  const Tensor q = randn({2, 3, 200, 64}, {}, &g), k = randn({2, 3, 200, 64}, {}, &g), v = randn({2, 3, 200, 64}, {}, &g);
  check_attention(q, k, v, {.is_causal = true}, kF32, 1e-4);
  check_attention(q, k, v, {.is_causal = true}, kF16, 2e-2);
  check_attention(q, k, v, {.attn_mask = rand({200, 200}, {}, &g) > 0.3}, kF32, 1e-4);
  check_attention(q, k, v, {.attn_mask = randn({3, 1, 200}, {}, &g)}, kF32, 1e-4);
  check_attention(q, k, v, {.dropout_p = 0.2, .is_causal = true}, kF32, 1e-4);
  // Keys and queries of different lengths, value dim != key dim, heads read through strides of a (B, L, H, D) view.
  const Tensor qs = randn({2, 50, 3, 32}, {}, &g).transpose(1, 2), ks = randn({2, 3, 70, 32}, {}, &g),
               vs = randn({2, 3, 70, 48}, {}, &g);
  check_attention(qs, ks, vs, {}, kF32, 1e-4);
}
