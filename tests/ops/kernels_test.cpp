// CPU kernels on sizes the op table's small samples do not reach: GEMM edge tiles, layouts and blocking against a
// float64 triple loop; the parallel elementwise and reduction paths; results that must not depend on the thread count.
#include <cmath>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "../test_util.h"
#include "ops/cpu/gemm.h"

using namespace ds;

namespace {
// C = A @ B in float64 with a plain triple loop; A is m x k with strides (ars, acs), B k x n with (brs, bcs).
std::vector<double> naive_gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t ars, int64_t acs,
                               const float* b, int64_t brs, int64_t bcs) {
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) {
      const double av = a[i * ars + p * acs];
      for (int64_t j = 0; j < n; ++j) c[i * n + j] += av * b[p * brs + j * bcs];
    }
  return c;
}
}  // namespace

TEST_CASE("ds's float32 GEMM matches a float64 triple loop on every layout and edge", "[ops][gemm]") {
  manual_seed(3);
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {6, 16, 256}, {13, 33, 257}, {97, 65, 300}, {200, 130, 520},
                               {5, 700, 40}, {300, 4, 9}};
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    for (int layout = 0; layout < 4; ++layout) {
      const bool ta = layout & 1, tb = layout & 2;
      // Transposed operands are stored the other way round and read through their strides.
      const Tensor A = ta ? randn({k, m}) : randn({m, k});
      const Tensor B = tb ? randn({n, k}) : randn({k, n});
      const int64_t ars = ta ? 1 : k, acs = ta ? m : 1, brs = tb ? 1 : n, bcs = tb ? k : 1;
      for (int threads : {1, 2}) {
        std::vector<float> c(static_cast<size_t>(m * n) + 8, 1e30f);
        cpu::gemm(m, n, k, {A.data_ptr<float>(), ars, acs}, {B.data_ptr<float>(), brs, bcs}, {c.data(), n, 1}, false,
                  threads);
        const auto ref = naive_gemm(m, n, k, A.data_ptr<float>(), ars, acs, B.data_ptr<float>(), brs, bcs);
        double worst = 0;
        for (int64_t i = 0; i < m * n; ++i) worst = std::max(worst, std::fabs(c[i] - ref[i]) / (1 + std::fabs(ref[i])));
        INFO("m " << m << " n " << n << " k " << k << " layout " << layout << " threads " << threads);
        CHECK(worst < 2e-6 * std::sqrt(static_cast<double>(k)));
        for (int g = 0; g < 8; ++g) CHECK(c[m * n + g] == 1e30f);  // nothing written past C
      }
    }
  }
}

TEST_CASE("the bf16 GEMM (vdpbf16ps) matches a float64 triple loop on every layout and edge", "[ops][gemm][bf16]") {
  if (!cpu::gemm_bf16_available()) {
    WARN("this CPU has no AVX512_BF16 (or DS_CPU_BF16=0): the vdpbf16ps GEMM is not run here; matmul's fallback is "
         "tested below");
    return;
  }
  manual_seed(5);
  // k odd (a zero pads the last pair), k above one block (512), edges in m and n, a short wide C (split by columns).
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {6, 32, 512}, {13, 33, 257}, {97, 65, 1100}, {5, 700, 40},
                               {200, 130, 64}};
  for (const auto& s : shapes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    for (int layout = 0; layout < 4; ++layout) {
      const bool ta = layout & 1, tb = layout & 2;
      const Tensor A = (ta ? randn({k, m}) : randn({m, k})).to(kBF16);
      const Tensor B = (tb ? randn({n, k}) : randn({k, n})).to(kBF16);
      const int64_t ars = ta ? 1 : k, acs = ta ? m : 1, brs = tb ? 1 : n, bcs = tb ? k : 1;
      const Tensor A32 = A.to(kF32), B32 = B.to(kF32);  // the same values, exactly
      const auto ref = naive_gemm(m, n, k, A32.data_ptr<float>(), ars, acs, B32.data_ptr<float>(), brs, bcs);
      for (int threads : {1, 2}) {
        std::vector<float> c(static_cast<size_t>(m * n) + 8, 1e30f);
        cpu::gemm_bf16(m, n, k, {static_cast<const BFloat16*>(A.data()), ars, acs},
                       {static_cast<const BFloat16*>(B.data()), brs, bcs}, {c.data(), n, 1}, false, threads);
        double worst = 0;
        for (int64_t i = 0; i < m * n; ++i) worst = std::max(worst, std::fabs(c[i] - ref[i]) / (1 + std::fabs(ref[i])));
        INFO("m " << m << " n " << n << " k " << k << " layout " << layout << " threads " << threads);
        CHECK(worst < 4e-6 * std::sqrt(static_cast<double>(k)));
        for (int g = 0; g < 8; ++g) CHECK(c[m * n + g] == 1e30f);  // nothing written past C
      }
    }
  }
}

TEST_CASE("bf16 matmul: the vdpbf16ps path and the float32 fallback both round float64's product", "[ops][bf16]") {
  manual_seed(6);
  const Tensor a = randn({3, 37, 70}).to(kBF16), b = randn({45, 70}).to(kBF16).t();  // batched, b transposed
  const Tensor ref = matmul(a.to(kF64), b.to(kF64));                                // the bf16 values' product
  const bool had = cpu::gemm_bf16_available();
  INFO("vdpbf16ps path " << (had ? "on" : "absent on this CPU"));
  const Tensor fast = matmul(a, b);
  CHECK_FALSE(cpu::set_gemm_bf16_enabled(false));
  const Tensor fallback = matmul(a, b);
  CHECK(cpu::set_gemm_bf16_enabled(had) == had);
  for (const Tensor& y : {fast, fallback}) {
    REQUIRE(y.dtype() == kBF16);
    const std::vector<double> got = y.to(kF64).contiguous().tolist<double>(), want = ref.contiguous().tolist<double>();
    double worst = 0;  // in units of bf16's rounding of the exact product
    for (size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, std::fabs(got[i] - want[i]) / (std::ldexp(std::fabs(want[i]), -8) + 1e-3));
    CHECK(worst <= 1.0);
  }
}

TEST_CASE("GEMM accumulates into C and writes strided C", "[ops][gemm]") {
  manual_seed(4);
  const Tensor A = randn({9, 7}), B = randn({7, 11});
  std::vector<float> c(9 * 2 * 11, 1.0f);  // C with row stride 22 and column stride 2
  cpu::gemm(9, 11, 7, {A.data_ptr<float>(), 7, 1}, {B.data_ptr<float>(), 11, 1}, {c.data(), 22, 2}, true, 2);
  const auto ref = naive_gemm(9, 11, 7, A.data_ptr<float>(), 7, 1, B.data_ptr<float>(), 11, 1);
  for (int64_t i = 0; i < 9; ++i)
    for (int64_t j = 0; j < 11; ++j) {
      // (absolute margin too: 1 + ref can cancel to near 0, where float32's rounding of the 7-term sum dominates)
      CHECK(c[i * 22 + j * 2] == Approx(1.0 + ref[i * 11 + j]).epsilon(1e-5).margin(1e-5));
      CHECK(c[i * 22 + j * 2 + 1] == 1.0f);  // the gaps are untouched
    }
}

TEST_CASE("matmul gives the same bits whatever the thread count", "[ops][gemm]") {
  manual_seed(11);
  const Tensor a = randn({300, 260}), b = randn({260, 310});
  const int threads = get_num_threads();
  const Tensor p2 = matmul(a, b);
  set_num_threads(1);
  const Tensor p1 = matmul(a, b);
  set_num_threads(threads);
  CHECK(equal_bits(p1, p2));
}

TEST_CASE("batched matmul with broadcasting equals a loop of 2-d products", "[ops]") {
  manual_seed(5);
  const Tensor a = randn({2, 1, 4, 3}), b = randn({3, 3, 5});
  const Tensor c = matmul(a, b);
  REQUIRE(c.sizes() == Shape{2, 3, 4, 5});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) CHECK(equal_bits(c[i][j], matmul(a[i][0], b[j])));
  const Tensor h = matmul(a.to(kF16), b.to(kBF16));  // f16 @ bf16 computes in float32, returns float32
  CHECK(h.dtype() == kF32);
}

TEST_CASE("large elementwise ops take the parallel, strided and buffered paths correctly", "[ops]") {
  manual_seed(9);
  const Tensor x = randn({700, 300}), y = randn({300, 700}).t();  // y is transposed: strided reads
  const Tensor z = x * y + 1;
  const Tensor xs = x.contiguous(), ys = y.contiguous();
  bool ok = true;
  for (int64_t i = 0; i < z.numel() && ok; i += 997) {
    volatile float p = static_cast<float>(read_element(xs, i)) * static_cast<float>(read_element(ys, i));  // no FMA
    ok = read_element(z, i) == p + 1.0f;
  }
  CHECK(ok);
  const Tensor h = x.to(kF16);
  CHECK((h.exp().to(kF32) - x.to(kF16).to(kF32).exp()).abs().max().item<float>() < 1e-2 * x.exp().max().item<float>());
  Tensor big = zeros({1 << 20});
  big.add_(1);
  CHECK(big.sum().item<double>() == 1 << 20);
}

TEST_CASE("reductions over large tensors are accurate and thread-count independent", "[ops]") {
  manual_seed(4);
  const Tensor x = rand({1 << 20}, {.dtype = kF64}).to(kF32);
  const double ref = x.to(kF64).sum().item<double>();
  const int threads = get_num_threads();
  const Tensor s2 = x.sum();
  set_num_threads(1);
  const Tensor s1 = x.sum();
  const Tensor c1 = x.view({1024, 1024}).sum({0});
  set_num_threads(threads);
  CHECK(equal_bits(s1, s2));
  CHECK(equal_bits(c1, x.view({1024, 1024}).sum({0})));
  CHECK(s2.item<double>() == Approx(ref).epsilon(1e-6));
  const Tensor m = randn({64, 50, 33});
  CHECK((m.sum({0, 2}) - m.to(kF64).sum({0, 2}).to(kF32)).abs().max().item<float>() < 1e-3);
  CHECK(m.amax({1}).sizes() == Shape{64, 33});
  CHECK(equal_bits(sort(m, 1).values.select(1, 49), m.amax({1})));
}

TEST_CASE("dropout masks depend only on the seed", "[ops]") {
  const Tensor x = ones({1000});
  manual_seed(1);
  const Tensor a = dropout(x, 0.25);
  manual_seed(1);
  const Tensor b = dropout(x.to(kF64), 0.25);
  CHECK(equal_bits(a, b.to(kF32)));
  const double kept = (a != 0).to(kF32).mean().item<double>();
  CHECK(kept == Approx(0.75).margin(0.05));
  CHECK(a.max().item<float>() == Approx(1 / 0.75));
  CHECK(equal_bits(dropout(x, 0.5, false), x));
}

TEST_CASE("exp underflows exactly: exp(-inf) is 0 in every lane, small results are IEEE's", "[ops]") {
  for (DType dt : {kF32, kF64}) {
    INFO(dtype_name(dt));
    std::vector<double> v(37, -std::numeric_limits<double>::infinity());
    v[3] = -100;
    v[5] = -1000;
    v[8] = 1;
    const std::vector<double> y = exp(from_vector(v).to(dt)).to(kF64).tolist<double>();
    for (size_t i = 0; i < v.size(); ++i) {
      const double want = dt == kF32 ? static_cast<double>(std::exp(static_cast<float>(v[i]))) : std::exp(v[i]);
      INFO("element " << i << " of exp(" << v[i] << ")");
      CHECK(y[i] == Approx(want).epsilon(1e-6).margin(0));
    }
  }
}

TEST_CASE("float64 matmul with a broadcast (stride 0) operand reads it as broadcast", "[ops]") {
  const Tensor h = randn({32, 5}, {.dtype = kF64});
  const Tensor b = ones({1, 1}, {.dtype = kF64}).expand({32, 4});
  const Tensor want = matmul(h.t(), b.contiguous());
  CHECK(amax(abs(matmul(h.t(), b) - want)).item<double>() < 1e-12);
  const Tensor row = randn({1, 5}, {.dtype = kF64}).expand({3, 5});
  CHECK(amax(abs(matmul(row, h.t()) - matmul(row.contiguous(), h.t()))).item<double>() < 1e-12);
}
