// The convolution kernels against a direct float64 loop over random geometries (stride, padding, dilation,
// groups, depthwise, batch sizes that split into several chunks), and the two backward halves against the adjoint identities
// <conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>.
#include <random>

#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "../test_util.h"
#include "ops/cpu/gemm.h"

using namespace ds;

namespace {

struct Geo {
  int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, g;
  int64_t Ho() const { return (H + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  int64_t Wo() const { return (W + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
  ConvOptions opts() const { return {.stride = {sh, sw}, .padding = {ph, pw}, .dilation = {dh, dw}, .groups = g}; }
};

Tensor naive_conv(const Tensor& x, const Tensor& w, const Geo& g) {
  const auto xv = x.to(kF64).contiguous().tolist<double>(), wv = w.to(kF64).contiguous().tolist<double>();
  std::vector<double> y(static_cast<size_t>(g.N * g.O * g.Ho() * g.Wo()), 0.0);
  const int64_t Cg = g.C / g.g, Og = g.O / g.g;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t i = 0; i < g.Ho(); ++i)
        for (int64_t j = 0; j < g.Wo(); ++j) {
          double s = 0;
          const int64_t grp = o / Og;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t a = 0; a < g.kh; ++a)
              for (int64_t b = 0; b < g.kw; ++b) {
                const int64_t ih = i * g.sh - g.ph + a * g.dh, iw = j * g.sw - g.pw + b * g.dw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                s += xv[static_cast<size_t>(((n * g.C + grp * Cg + c) * g.H + ih) * g.W + iw)] *
                     wv[static_cast<size_t>(((o * Cg + c) * g.kh + a) * g.kw + b)];
              }
          y[static_cast<size_t>(((n * g.O + o) * g.Ho() + i) * g.Wo() + j)] = s;
        }
  return from_vector(y, {g.N, g.O, g.Ho(), g.Wo()});
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return amax(abs(a.to(kF64) - b.to(kF64))).item<double>(); }

Geo random_geo(std::mt19937& rng) {
  auto r = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (;;) {
    Geo g{r(1, 5), 0, r(1, 9), r(1, 9), 0, r(1, 4), r(1, 4), r(1, 3), r(1, 3), 0, 0, r(1, 2), r(1, 2), r(1, 3)};
    g.C = g.g * r(1, 3);
    g.O = g.g * r(1, 3);
    g.ph = r(0, 2);
    g.pw = r(0, 2);
    if (g.Ho() >= 1 && g.Wo() >= 1 && g.H + 2 * g.ph >= g.dh * (g.kh - 1) + 1 && g.W + 2 * g.pw >= g.dw * (g.kw - 1) + 1)
      return g;
  }
}

// Depthwise (groups == C == O), the direct-loop path of ops/cpu/conv.cpp: odd sizes, strides 1-3, paddings 0-3
// (wider than the kernel's reach too), dilations 1-3, non-square kernels.
Geo random_depthwise_geo(std::mt19937& rng) {
  auto r = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (;;) {
    const int64_t C = r(2, 7);
    Geo g{r(1, 4), C, r(1, 13), r(1, 13), C, r(1, 5), r(1, 5), r(1, 3), r(1, 3), r(0, 3), r(0, 3), r(1, 3), r(1, 3), C};
    if (g.Ho() >= 1 && g.Wo() >= 1 && g.H + 2 * g.ph >= g.dh * (g.kh - 1) + 1 && g.W + 2 * g.pw >= g.dw * (g.kw - 1) + 1)
      return g;
  }
}

// The kernels at geometry g against naive_conv (f64 and f32) and the adjoint identities.
void check_against_direct_loop(const Geo& g) {
  INFO("x [" << g.N << "," << g.C << "," << g.H << "," << g.W << "] w [" << g.O << "," << g.C / g.g << "," << g.kh
             << "," << g.kw << "] stride " << g.sh << "," << g.sw << " pad " << g.ph << "," << g.pw << " dil " << g.dh
             << "," << g.dw << " groups " << g.g);
  const Tensor x = randn({g.N, g.C, g.H, g.W}, {.dtype = kF64}), w = randn({g.O, g.C / g.g, g.kh, g.kw}, {.dtype = kF64});
  const Tensor want = naive_conv(x, w, g);
  CHECK(max_abs_diff(conv2d(x, w, {}, g.opts()), want) < 1e-12);
  CHECK(max_abs_diff(conv2d(x.to(kF32), w.to(kF32), {}, g.opts()), want) < 1e-4);
  // Adjoints: <conv(x, w), gy> = <x, input_grad(gy, w)> = <w, weight_grad(x, gy)>.
  const Tensor gy = randn(want.sizes(), {.dtype = kF64});
  const Conv2dInputGradAttrs a_in{.stride = {g.sh, g.sw}, .padding = {g.ph, g.pw}, .dilation = {g.dh, g.dw},
                                  .groups = g.g, .input_size = {g.H, g.W}};
  const Conv2dWeightGradAttrs a_w{.stride = {g.sh, g.sw}, .padding = {g.ph, g.pw}, .dilation = {g.dh, g.dw},
                                  .groups = g.g, .kernel_size = {g.kh, g.kw}};
  const double lhs = sum(want * gy).item<double>();
  const Tensor dx = call_op1(OpId::conv2d_input_grad, {gy, w}, a_in);
  const Tensor dw = call_op1(OpId::conv2d_weight_grad, {x, gy}, a_w);
  CHECK(std::abs(sum(x * dx).item<double>() - lhs) < 1e-9 * (1 + std::abs(lhs)));
  CHECK(std::abs(sum(w * dw).item<double>() - lhs) < 1e-9 * (1 + std::abs(lhs)));
}

// conv2d_weight_grad(x, gy) computed on `threads` threads.
Tensor weight_grad_on_threads(int threads, const Tensor& x, const Tensor& gy, const Conv2dWeightGradAttrs& a) {
  const int before = get_num_threads();
  set_num_threads(threads);
  const Tensor dw = call_op1(OpId::conv2d_weight_grad, {x, gy}, a);
  set_num_threads(before);
  return dw;
}

}  // namespace

TEST_CASE("conv2d matches a direct loop on random geometries, f32 and f64", "[ops][conv]") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 60; ++trial) check_against_direct_loop(random_geo(rng));
}

TEST_CASE("depthwise conv2d matches a direct loop on random geometries, f32 and f64", "[ops][conv]") {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 80; ++trial) check_against_direct_loop(random_depthwise_geo(rng));
  // MobileNetV2's shapes (stride 1 and 2) with more planes than one thread's grain.
  check_against_direct_loop(Geo{2, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 32});
  check_against_direct_loop(Geo{2, 24, 15, 15, 24, 3, 3, 2, 2, 1, 1, 1, 1, 24});
}

TEST_CASE("depthwise conv2d's weight grad does not depend on the thread count", "[ops][conv]") {
  const Tensor x = randn({4, 48, 17, 17}), gy = randn({4, 48, 9, 9});
  const Conv2dWeightGradAttrs a_w{
      .stride = {2, 2}, .padding = {1, 1}, .dilation = {1, 1}, .groups = 48, .kernel_size = {3, 3}};
  const Tensor one = weight_grad_on_threads(1, x, gy, a_w);
  CHECK(max_abs_diff(one, weight_grad_on_threads(2, x, gy, a_w)) == 0);
}

TEST_CASE("conv2d's small weight grads, split over parts of the samples, match the direct loop and do not depend on "
          "the thread count", "[ops][conv]") {
  // LeNet-5's layers and a 3-channel stem (O x K at most 4096 elements): 8 parts summed in order, 5 samples in
  // parts of 0 or 1, and 24 samples of 128x128 columns, which a part takes in two steps (of at most ~1M elements).
  check_against_direct_loop(Geo{11, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1});
  check_against_direct_loop(Geo{9, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1});
  check_against_direct_loop(Geo{5, 3, 12, 12, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1});
  // LeNet's first layer (one part per thread or two): its bits do not depend on the thread count either.
  {
    const Tensor x1 = randn({16, 1, 28, 28}), gy1 = randn({16, 6, 28, 28});
    const Conv2dWeightGradAttrs a1{
        .stride = {1, 1}, .padding = {2, 2}, .dilation = {1, 1}, .groups = 1, .kernel_size = {5, 5}};
    CHECK(max_abs_diff(weight_grad_on_threads(1, x1, gy1, a1), weight_grad_on_threads(2, x1, gy1, a1)) == 0);
  }
  const Tensor x = randn({24, 3, 128, 128}), gy = randn({24, 16, 128, 128});
  const Conv2dWeightGradAttrs a_w{
      .stride = {1, 1}, .padding = {1, 1}, .dilation = {1, 1}, .groups = 1, .kernel_size = {3, 3}};
  const Tensor one = weight_grad_on_threads(1, x, gy, a_w);
  CHECK(max_abs_diff(one, weight_grad_on_threads(2, x, gy, a_w)) == 0);
  const Tensor want = call_op1(OpId::conv2d_weight_grad, {x.to(kF64), gy.to(kF64)}, a_w);
  INFO("largest |dw| " << amax(abs(want)).item<double>());
  CHECK(max_abs_diff(one, want) < 2e-6 * amax(abs(want)).item<double>());  // sums of 393216 products
}

TEST_CASE("conv2d over many samples (several column chunks) matches per-sample results", "[ops][conv]") {
  // 300 samples of 16x32x32 with a 3x3 kernel: 144 * 1024 columns per sample, so the 4M-element column buffer
  // holds 28 samples and the batch runs in 11 chunks, the last one partial.
  const Tensor x = randn({300, 16, 32, 32}), w = randn({8, 16, 3, 3});
  const Tensor y = conv2d(x, w, {}, {.padding = {1}});
  for (int64_t n : {0, 27, 28, 150, 299}) {
    INFO("sample " << n);
    CHECK(max_abs_diff(y[n], conv2d(x[n].unsqueeze(0), w, {}, {.padding = {1}})[0]) < 1e-4);
  }
}

TEST_CASE("bf16 conv2d and its gradients: vdpbf16ps and the float32 fallback both round float64's result",
          "[ops][conv][bf16]") {
  // bf16 x, w and gy: float64's results on those exact values, rounded once to bf16, are what both paths approach
  // (the float64 kernels are checked against the direct loop and the adjoint identities above).
  std::mt19937 rng(17);
  const bool had = cpu::gemm_bf16_available();
  INFO("vdpbf16ps path " << (had ? "on" : "absent on this CPU"));
  auto within = [](const Tensor& y, const Tensor& want, const Tensor& bound) {
    // bf16's rounding of the result (2^-8 relative) plus float32 accumulation, which scales with the sum of |terms|.
    const Tensor err = abs(y.to(kF64) - want) - (abs(want) * std::ldexp(1.0, -8) + bound * 1e-6 + 1e-12);
    return amax(err).item<double>() <= 0;
  };
  for (int trial = 0; trial < 20; ++trial) {
    Geo g = random_geo(rng);
    if (trial == 0) g = Geo{9, 16, 12, 12, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1};  // a ResNet-like 3x3 layer
    if (trial == 1) g = Geo{30, 16, 32, 32, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1};  // two chunks: the weight grad accumulates
    INFO("trial " << trial << " x [" << g.N << "," << g.C << "," << g.H << "," << g.W << "] O " << g.O << " groups "
                  << g.g);
    const Tensor x = randn({g.N, g.C, g.H, g.W}).to(kBF16), w = randn({g.O, g.C / g.g, g.kh, g.kw}).to(kBF16);
    const Tensor gy = randn({g.N, g.O, g.Ho(), g.Wo()}).to(kBF16);
    const Conv2dInputGradAttrs a_in{.stride = {g.sh, g.sw}, .padding = {g.ph, g.pw}, .dilation = {g.dh, g.dw},
                                    .groups = g.g, .input_size = {g.H, g.W}};
    const Conv2dWeightGradAttrs a_w{.stride = {g.sh, g.sw}, .padding = {g.ph, g.pw}, .dilation = {g.dh, g.dw},
                                    .groups = g.g, .kernel_size = {g.kh, g.kw}};
    auto f64 = [](const Tensor& t) { return t.to(kF64); };
    auto absf64 = [](const Tensor& t) { return abs(t.to(kF64)); };
    const Tensor want = conv2d(f64(x), f64(w), {}, g.opts()), bound = conv2d(absf64(x), absf64(w), {}, g.opts());
    const Tensor want_dx = call_op1(OpId::conv2d_input_grad, {f64(gy), f64(w)}, a_in);
    const Tensor bound_dx = call_op1(OpId::conv2d_input_grad, {absf64(gy), absf64(w)}, a_in);
    const Tensor want_dw = call_op1(OpId::conv2d_weight_grad, {f64(x), f64(gy)}, a_w);
    const Tensor bound_dw = call_op1(OpId::conv2d_weight_grad, {absf64(x), absf64(gy)}, a_w);
    for (bool fast : {true, false}) {
      INFO((fast ? "vdpbf16ps" : "fallback"));
      cpu::set_gemm_bf16_enabled(fast && had);
      const Tensor y = conv2d(x, w, {}, g.opts());
      REQUIRE(y.dtype() == kBF16);
      CHECK(within(y, want, bound));
      CHECK(within(call_op1(OpId::conv2d_input_grad, {gy, w}, a_in), want_dx, bound_dx));
      CHECK(within(call_op1(OpId::conv2d_weight_grad, {x, gy}, a_w), want_dw, bound_dw));
    }
    cpu::set_gemm_bf16_enabled(had);
  }
}
