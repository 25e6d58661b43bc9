// The row kernels (layer_norm, cross-entropy) and the fused AdamW on CUDA against the CPU at the sizes of a GPT
// (rows of 768, a vocabulary of 50257), which the op table's small cases do not reach: many threads per row,
// dweight/dbias summed over row chunks, targets ignored and out of range, and several AdamW steps.
#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "cuda_test_util.h"

using namespace ds;

TEST_CASE("cuda layer_norm: forward and backward at GPT sizes", "[cuda][autograd]") {
  Generator g(31);
  const Tensor x = randn({4, 300, 768}, {}, &g) * 3 + 1, w = randn({768}, {}, &g), b = randn({768}, {}, &g);
  const Tensor up = randn({4, 300, 768}, {}, &g);
  Tensor xc = x.clone().requires_grad_(), wc = w.clone().requires_grad_(), bc = b.clone().requires_grad_();
  Tensor xg = x.to(kCUDA).requires_grad_(), wg = w.to(kCUDA).requires_grad_(), bg = b.to(kCUDA).requires_grad_();
  const Tensor yc = layer_norm(xc, {768}, wc, bc), yg = layer_norm(xg, {768}, wg, bg);
  check_cuda_close(yg, yc, 1e-5);
  (yc * up).sum().backward();
  (yg * up.to(kCUDA)).sum().backward();
  check_cuda_close(xg.grad(), xc.grad(), 1e-5);
  check_cuda_close(wg.grad(), wc.grad(), 1e-4);  // sums of 1200 rows
  check_cuda_close(bg.grad(), bc.grad(), 1e-4);
}

TEST_CASE("cuda cross_entropy: a GPT vocabulary, ignored targets and smoothing", "[cuda][autograd]") {
  Generator g(32);
  const int64_t N = 64, C = 50257;
  const Tensor logits = randn({N, C}, {}, &g) * 2;
  Tensor target = randint(0, C, {N}, {.dtype = kI64}, &g);
  target.narrow(0, 5, 3).fill_(-100);
  for (double smoothing : {0.0, 0.1}) {
    INFO("label_smoothing " << smoothing);
    Tensor lc = logits.clone().requires_grad_(), lg = logits.to(kCUDA).requires_grad_();
    const Tensor c = cross_entropy(lc, target, Reduction::Mean, -100, smoothing);
    const Tensor gl = cross_entropy(lg, target.to(kCUDA), Reduction::Mean, -100, smoothing);
    check_cuda_close(gl, c, 1e-5);
    c.backward();
    gl.backward();
    check_cuda_close(lg.grad(), lc.grad(), 1e-5);
  }
  const Tensor bad = full({N}, C, {.dtype = kI64, .device = kCUDA});
  Tensor loss = cross_entropy(logits.to(kCUDA), bad);
  CHECK_THROWS_WITH(loss.item<double>(), Catch::Contains("[softmax_cross_entropy] index 50257 is out of bounds"));
}

TEST_CASE("cuda adam_step: AdamW steps match the CPU's", "[cuda]") {
  Generator g(33);
  Tensor p = randn({1000, 37}, {}, &g), m = zeros({1000, 37}), v = zeros({1000, 37});
  Tensor pg = p.to(kCUDA), mg = m.to(kCUDA), vg = v.to(kCUDA);
  for (int64_t step = 1; step <= 3; ++step) {
    const Tensor grad = randn({1000, 37}, {}, &g);
    const AdamStepOptions o{.lr = 1e-2, .weight_decay = 0.1, .step = step, .decoupled = true};
    NoGradGuard no_grad;
    adam_step_(p, grad, m, v, o);
    adam_step_(pg, grad.to(kCUDA), mg, vg, o);
  }
  check_cuda_close(pg, p, 1e-6);
  check_cuda_close(mg, m, 1e-6);
  check_cuda_close(vg, v, 1e-6);
}
