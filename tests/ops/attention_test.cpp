// scaled_dot_product_attention's tiled kernel against the math definition (softmax of the full score matrix, in
// ds ops) in float64 on random geometries that cross the kernel's block edges (64 query rows, 256 keys), with
// causal, boolean and additive masks; gradients through both paths; dropout's mask (replayable, the right rate,
// the same in forward and backward); and the memory of a long sequence (no (L, S) matrix).
#include <cmath>
#include <random>

#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "../test_util.h"

using namespace ds;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) { return amax(abs(a.to(kF64) - b.to(kF64))).item<double>(); }

struct Geometry {
  int64_t B, H, L, S, E, Ev;
  int mask;  // 0 none, 1 causal, 2 bool, 3 float
};

}  // namespace

TEST_CASE("attention kernel matches the math definition, values and gradients", "[ops][attention]") {
  const Geometry geos[] = {{1, 1, 1, 1, 1, 1, 0},      {2, 3, 5, 7, 4, 3, 0},    {1, 2, 64, 64, 8, 8, 1},
                           {1, 1, 65, 65, 4, 4, 1},    {2, 1, 70, 300, 3, 5, 2}, {1, 2, 130, 513, 8, 2, 1},
                           {1, 1, 33, 257, 16, 16, 3}, {0, 4, 9, 11, 6, 6, 2},   {1, 1, 300, 40, 2, 2, 1}};
  std::mt19937_64 rng(20261125);
  for (const Geometry& g : geos) {
    INFO("B " << g.B << " H " << g.H << " L " << g.L << " S " << g.S << " E " << g.E << " mask " << g.mask);
    // B = 0 stands for 3-d inputs (N, L, E).
    auto shape = [&](int64_t n, int64_t d) { return g.B ? Shape{g.B, g.H, n, d} : Shape{g.H, n, d}; };
    Generator gen(rng());
    Tensor q = randn(shape(g.L, g.E), {.dtype = kF64}, &gen).requires_grad_(true);
    Tensor k = randn(shape(g.S, g.E), {.dtype = kF64}, &gen).requires_grad_(true);
    Tensor v = randn(shape(g.S, g.Ev), {.dtype = kF64}, &gen).requires_grad_(true);
    AttentionOptions o;
    if (g.mask == 1) o.is_causal = true;
    if (g.mask == 2) {  // random keep pattern per (L, S), every row keeping its first key
      Tensor keep = rand({g.L, g.S}, {.dtype = kF64}, &gen) > 0.3;
      keep.narrow(1, 0, 1).fill_(1);
      o.attn_mask = keep;
    }
    if (g.mask == 3) o.attn_mask = randn({g.L, g.S}, {.dtype = kF64}, &gen);
    const Tensor y = scaled_dot_product_attention(q, k, v, o);
    const Tensor ref = detail::scaled_dot_product_attention_math(q, k, v, o);
    CHECK(max_abs_diff(y, ref) < 1e-12);
    const Tensor w = randn(y.sizes(), {.dtype = kF64}, &gen);
    const auto got = grad({sum(y * w)}, {q, k, v});
    const auto want = grad({sum(ref * w)}, {q, k, v});
    for (size_t i = 0; i < 3; ++i) CHECK(max_abs_diff(got[i], want[i]) < 1e-11);
  }
}

TEST_CASE("attention in float32 stays within float32 rounding of float64", "[ops][attention]") {
  Generator gen(3);
  const Tensor q = randn({2, 4, 200, 64}, {}, &gen), k = randn({2, 4, 200, 64}, {}, &gen), v = randn({2, 4, 200, 64}, {}, &gen);
  const Tensor y = scaled_dot_product_attention(q, k, v, {.is_causal = true});
  const Tensor ref = detail::scaled_dot_product_attention_math(q.to(kF64), k.to(kF64), v.to(kF64), {.is_causal = true});
  CHECK(max_abs_diff(y, ref) < 1e-5);
}

TEST_CASE("attention: a query row with no allowed key gives zeros, and no NaN in the gradients", "[ops][attention]") {
  Tensor q = randn({1, 3, 4}, {.dtype = kF64}).requires_grad_(true);
  Tensor k = randn({1, 5, 4}, {.dtype = kF64}).requires_grad_(true);
  Tensor v = randn({1, 5, 2}, {.dtype = kF64}).requires_grad_(true);
  Tensor mask = ones({3, 5}, {.dtype = kBool});
  mask.select(0, 1).fill_(0);  // row 1 may attend to nothing
  const Tensor y = scaled_dot_product_attention(q, k, v, {.attn_mask = mask});
  CHECK(amax(abs(y.select(1, 1))).item<double>() == 0);
  const auto g = grad({sum(y)}, {q, k, v});
  for (const Tensor& t : g) CHECK(std::isfinite(sum(abs(t)).item<double>()));
  CHECK(amax(abs(g[0].select(1, 1))).item<double>() == 0);
}

TEST_CASE("attention dropout: replayable, the right rate, unbiased, and the backward sees the forward's mask",
          "[ops][attention]") {
  // q = k = 0: every weight is 1/S, so with v = 1 each output is the kept fraction of its row scaled by 1/(1-p).
  const int64_t L = 256, S = 512;
  const double p = 0.25;
  const Tensor q = zeros({2, 2, L, 8}), k = zeros({2, 2, S, 8});
  const Tensor v = ones({2, 2, S, 1});
  Generator g1(42), g2(42);
  const Tensor a = scaled_dot_product_attention(q, k, v, {.dropout_p = p, .generator = &g1});
  const Tensor b = scaled_dot_product_attention(q, k, v, {.dropout_p = p, .generator = &g2});
  CHECK(equal_bits(a, b));
  const Tensor c = scaled_dot_product_attention(q, k, v, {.dropout_p = p, .generator = &g1});
  CHECK(!equal_bits(a, c));  // the generator moved on: a new mask
  // mean over 2*2*256 rows of 512 keys: 524288 Bernoulli draws, standard error ~0.0007
  CHECK(std::abs(mean(a).item<double>() - 1.0) < 0.005);
  // kept fraction per row ~ 0.75 * S: the outputs are multiples of 1/(S (1-p))
  const double unit = 1.0 / (S * (1 - p));
  const Tensor counts = a / unit;
  CHECK(max_abs_diff(counts, round(counts)) < 1e-3);

  // Backward against a math reference that applies the very same mask: recover it from v = one-hot columns.
  Generator gq(9);
  Tensor q2 = randn({1, 1, 3, 4}, {.dtype = kF64}, &gq).requires_grad_(true);
  Tensor k2 = randn({1, 1, 6, 4}, {.dtype = kF64}, &gq).requires_grad_(true);
  Tensor v2 = randn({1, 1, 6, 2}, {.dtype = kF64}, &gq).requires_grad_(true);
  Generator gm(77), gd(77);
  // With v = I (6 x 6) the output is the dropped weight matrix itself: P * keep / (1 - p).
  const Tensor eye6 = eye(6, {}, {.dtype = kF64}).view({1, 1, 6, 6});
  const Tensor dropped = scaled_dot_product_attention(q2.detach(), k2.detach(), eye6, {.dropout_p = 0.5, .generator = &gm});
  const Tensor weights = softmax(matmul(q2.detach(), k2.detach().transpose(-2, -1)) * 0.5, -1);
  const Tensor keep = dropped / weights * 0.5;  // 0 or 1
  CHECK(max_abs_diff(keep, round(keep)) < 1e-12);
  const Tensor y = scaled_dot_product_attention(q2, k2, v2, {.dropout_p = 0.5, .generator = &gd});
  const Tensor ref = matmul(softmax(matmul(q2, k2.transpose(-2, -1)) * 0.5, -1) * keep * 2.0, v2);
  CHECK(max_abs_diff(y, ref) < 1e-12);
  const auto got = grad({sum(y * y)}, {q2, k2, v2}), want = grad({sum(ref * ref)}, {q2, k2, v2});
  for (size_t i = 0; i < 3; ++i) CHECK(max_abs_diff(got[i], want[i]) < 1e-11);
}

TEST_CASE("attention on a long sequence never forms the (L, S) matrix", "[ops][attention]") {
  // 4096 x 4096 scores in float32 would be 64 MiB per head; the kernel's working set is a 64 x 256 block per thread.
  const int64_t T = 4096, D = 64;
  const Tensor q = randn({1, 1, T, D}), k = randn({1, 1, T, D}), v = randn({1, 1, T, D});
  Allocator& a = cpu_allocator();
  a.reset_peak();
  const int64_t before = a.stats().live_bytes;
  const Tensor y = scaled_dot_product_attention(q, k, v, {.is_causal = true});
  const int64_t extra = a.stats().peak_bytes - before;
  CHECK(extra <= 2 * T * D * 4 + (1 << 20));  // the output and the logsumexp, and a little slack
  CHECK(std::isfinite(sum(y).item<double>()));
}

TEST_CASE("attention differentiates twice (the recorded backward uses the formulas in ds ops)", "[ops][attention]") {
  Generator gen(5);
  Tensor q = randn({1, 2, 5, 3}, {.dtype = kF64}, &gen).requires_grad_(true);
  Tensor k = randn({1, 2, 7, 3}, {.dtype = kF64}, &gen).requires_grad_(true);
  Tensor v = randn({1, 2, 7, 2}, {.dtype = kF64}, &gen).requires_grad_(true);
  const Tensor mask = rand({5, 7}, {.dtype = kF64}, &gen) > 0.2;
  for (const AttentionOptions& o : {AttentionOptions{.is_causal = true}, AttentionOptions{.attn_mask = mask}}) {
    const Tensor y = scaled_dot_product_attention(q, k, v, o);
    const Tensor ref = detail::scaled_dot_product_attention_math(q, k, v, o);
    const auto d = grad({sum(y * y)}, {q, k, v}, {}, true, true);
    const auto r = grad({sum(ref * ref)}, {q, k, v}, {}, true, true);
    const auto d2 = grad({sum(d[0] * d[0]) + sum(d[1]) + sum(d[2] * d[2])}, {q, k, v});
    const auto r2 = grad({sum(r[0] * r[0]) + sum(r[1]) + sum(r[2] * r[2])}, {q, k, v});
    for (size_t i = 0; i < 3; ++i) {
      CHECK(max_abs_diff(d[i], r[i]) < 1e-11);
      CHECK(max_abs_diff(d2[i], r2[i]) < 1e-10);
    }
  }
  Generator g(1);
  const Tensor y = scaled_dot_product_attention(q, k, v, {.dropout_p = 0.2, .generator = &g});
  CHECK_THROWS_WITH(grad({sum(y)}, {q}, {}, true, true), Catch::Contains("twice through attention dropout"));
}
