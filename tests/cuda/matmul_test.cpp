// matmul on CUDA (cuBLASLt on a GPU, ds's tiled kernel in cudasim or with DS_CUDA_GEMM=simt) against the CPU's, on
// shapes that are not multiples of the tiles, with transposed, sliced and broadcast operands, in every float dtype.
// Errors are normwise (max |got - want| / max |want|), the measure a GEMM's rounding is bounded by: f64 1e-12,
// f32 1e-5, TF32 1e-3, f16 2e-3, bf16 1e-2.
#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "cuda_test_util.h"

using namespace ds;

namespace {

double normwise_error(const Tensor& got, const Tensor& want) {
  const Tensor g = got.to(kCPU).to(kF64), w = want.to(kF64);
  return (g - w).abs().max().item<double>() / std::max(w.abs().max().item<double>(), 1e-300);
}

double gemm_tol(DType t, bool tf32) {
  switch (t) {
    case DType::f64: return 1e-12;
    case DType::f32: return tf32 ? 1e-3 : 1e-5;
    case DType::f16: return 2e-3;
    default: return 1e-2;
  }
}

// a @ b on the GPU against the CPU, both from the same values in dtype dt.
void check_matmul(const Tensor& a, const Tensor& b, DType dt, bool tf32 = false) {
  const Tensor ac = a.to(dt), bc = b.to(dt);
  const Tensor got = matmul(ac.to(kCUDA), bc.to(kCUDA));
  const Tensor want = matmul(ac, bc);
  REQUIRE(got.sizes() == want.sizes());
  REQUIRE(got.dtype() == dt);
  CHECK(normwise_error(got, want) < gemm_tol(dt, tf32));
}

}  // namespace

TEST_CASE("cuda matmul: every float dtype on shapes that are not multiples of the tiles", "[cuda]") {
  PoisonCudaMemory poison;
  Generator g(11);
  for (DType dt : {kF32, kF64, kF16, kBF16}) {
    INFO(dtype_name(dt));
    for (const auto& [m, k, n] : {std::tuple{1, 1, 1}, {5, 7, 3}, {65, 129, 63}, {200, 300, 130}, {1, 512, 300}}) {
      INFO(m << "x" << k << " @ " << k << "x" << n);
      check_matmul(randn({m, k}, {}, &g), randn({k, n}, {}, &g), dt);
    }
  }
}

TEST_CASE("cuda matmul: transposed, sliced and broadcast operands", "[cuda]") {
  Generator g(12);
  const Tensor a = randn({70, 90}, {}, &g), b = randn({90, 50}, {}, &g);
  check_matmul(a.t().contiguous().t(), b, kF32);                     // A column-major
  check_matmul(a, b.t().contiguous().t(), kF32);                     // B column-major
  check_matmul(randn({90, 70}, {}, &g).t(), randn({50, 90}, {}, &g).t(), kF32);  // both transposed views
  check_matmul(randn({70, 180}, {}, &g).narrow(1, 0, 90), b, kF32);  // a row stride longer than the row
  check_matmul(randn({70, 180}, {}, &g).slice(1, 0, 180, 2), b, kF32);  // no unit stride: copied for cuBLASLt
  // Batches: plain, a shared weight (batch stride 0), and a broadcast that does not fold into one stride.
  check_matmul(randn({4, 33, 40}, {}, &g), randn({4, 40, 17}, {}, &g), kF32);
  check_matmul(randn({4, 33, 40}, {}, &g), randn({1, 40, 17}, {}, &g), kF32);
  check_matmul(randn({3, 1, 20, 30}, {}, &g), randn({1, 5, 30, 10}, {}, &g), kF32);
  check_matmul(randn({2, 3, 8, 64}, {}, &g).transpose(1, 2), randn({2, 64, 8, 16}, {}, &g).transpose(1, 2), kBF16);
}

TEST_CASE("cuda matmul: TF32 only when allowed, within its bound", "[cuda]") {
  Generator g(13);
  const Tensor a = randn({256, 512}, {}, &g), b = randn({512, 128}, {}, &g);
  CHECK_FALSE(cuda_allow_tf32());
  check_matmul(a, b, kF32);  // 1e-5: TF32 would miss it
  cuda_set_allow_tf32(true);
  check_matmul(a, b, kF32, true);
  cuda_set_allow_tf32(false);
}

TEST_CASE("cuda matmul: gradients of a linear layer on the GPU match the CPU's", "[cuda][autograd]") {
  Generator g(14);
  const Tensor x = randn({16, 40}, {}, &g), w = randn({24, 40}, {}, &g);
  Tensor xc = x.clone().requires_grad_(), wc = w.clone().requires_grad_();
  Tensor xg = x.to(kCUDA).requires_grad_(), wg = w.to(kCUDA).requires_grad_();
  matmul(xc, wc.t()).tanh().sum().backward();
  matmul(xg, wg.t()).tanh().sum().backward();
  CHECK(normwise_error(xg.grad(), xc.grad()) < 1e-5);
  CHECK(normwise_error(wg.grad(), wc.grad()) < 1e-5);
}

TEST_CASE("cuda matmul: empty products", "[cuda]") {
  PoisonCudaMemory poison;
  const Tensor z = matmul(ones({3, 0}, {.device = kCUDA}), ones({0, 4}, {.device = kCUDA}));
  CHECK(z.to(kCPU).abs().max().item<double>() == 0);  // an empty sum is zero, not stale memory
  CHECK(matmul(ones({0, 5}, {.device = kCUDA}), ones({5, 4}, {.device = kCUDA})).numel() == 0);
}
