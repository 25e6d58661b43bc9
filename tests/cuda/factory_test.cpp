// The factories' CUDA kernels (ops/cuda/factory.cu) against the CPU's: the same values for the same arguments, and
// for random ops the same numbers from the same seed (uniforms and integers bitwise; normals to the last bits of
// the GPU's log and sincos).
#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "cuda_test_util.h"

using namespace ds;

TEST_CASE("cuda factories: full, arange, linspace and eye give the CPU's values in every dtype", "[cuda]") {
  for (int t = 0; t < kNumDTypes; ++t) {
    const auto dt = static_cast<DType>(t);
    INFO(dtype_name(dt));
    const TensorOptions g{.dtype = dt, .device = kCUDA}, c{.dtype = dt};
    check_cuda_close(full({3, 5}, 3, g), full({3, 5}, 3, c));
    check_cuda_close(zeros({1000}, g), zeros({1000}, c));
    check_cuda_close(arange(0, 37, 2, g), arange(0, 37, 2, c));
    check_cuda_close(eye(4, 6, g), eye(4, 6, c));
    if (dt != kBool) check_cuda_close(linspace(-1, 2, 17, g), linspace(-1, 2, 17, c));
    if (is_floating(dt)) check_cuda_close(full({7}, 0.3, g), full({7}, 0.3, c));
  }
  // fill_ writes any strides: a transposed view is filled where it points, the rest left alone.
  Tensor x = zeros({4, 6}, {.device = kCUDA});
  x.t().narrow(0, 1, 2).fill_(5);
  Tensor y = zeros({4, 6});
  y.t().narrow(0, 1, 2).fill_(5);
  check_cuda_close(x, y);
}

TEST_CASE("cuda factories: rand, randn and randint draw the CPU's numbers from the same seed", "[cuda]") {
  for (DType dt : {kF32, kF64, kF16, kBF16}) {
    INFO(dtype_name(dt));
    Generator a(42), b(42);
    check_cuda_close(rand({1001}, {.dtype = dt, .device = kCUDA}, &a), rand({1001}, {.dtype = dt}, &b));
    // Box-Muller in double on both sides; the GPU's log, sqrt and sincos may differ in the last bits.
    check_cuda_close(randn({1003}, {.dtype = dt, .device = kCUDA}, &a), randn({1003}, {.dtype = dt}, &b),
                dt == kF64 ? 1e-14 : 0);
    CHECK(a.state().offset == b.state().offset);  // both reserved the same counters
  }
  for (DType dt : {kI64, kI32, kI8, kU8, kF32}) {
    INFO(dtype_name(dt));
    Generator a(7), b(7);
    const int64_t low = dt == kU8 ? 0 : -5;
    check_cuda_close(randint(low, 100, {999}, {.dtype = dt, .device = kCUDA}, &a), randint(low, 100, {999}, {.dtype = dt}, &b));
  }
  // The statistics of a large draw on the device.
  const Tensor u = rand({1 << 16}, {.device = kCUDA});
  CHECK(u.mean().item<double>() == Approx(0.5).margin(0.01));
  const Tensor n = randn({1 << 16}, {.device = kCUDA});
  CHECK(n.to(kCPU).std().item<double>() == Approx(1.0).margin(0.02));
}

TEST_CASE("cuda copies: to(dtype) and contiguous() on the GPU match the CPU, every pair of dtypes", "[cuda]") {
  const Tensor base = (randn({5, 8}) * 40).to(kF64);
  for (int s = 0; s < kNumDTypes; ++s)
    for (int d = 0; d < kNumDTypes; ++d) {
      const auto src = static_cast<DType>(s), dst = static_cast<DType>(d);
      INFO(dtype_name(src) << " -> " << dtype_name(dst));
      const Tensor x = base.to(src);
      check_cuda_close(x.to(kCUDA).t().to(dst), x.t().to(dst));
      check_cuda_close(x.to(kCUDA).t().contiguous(), x.t().contiguous());
    }
}

TEST_CASE("cuda copies: to(device) is differentiable and moves between GPUs", "[cuda][autograd]") {
  const Tensor w = tensor({1.0, -2.0, 3.0}).requires_grad_(true);
  const Tensor g = w.to(kCUDA);
  CHECK(g.is_cuda());
  CHECK(g.requires_grad());
  (g * g).sum().backward();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().is_cpu());
  CHECK(w.grad().tolist<float>() == std::vector<float>{2, -4, 6});
  if (cuda_device_count() > 1) {
    const Device d1(DeviceType::CUDA, 1);
    const Tensor x = arange(0, 10).to(kF32).to(kCUDA);
    const Tensor y = x.to(d1);
    CHECK(y.device() == d1);
    CHECK((y * 2).to(kCPU).tolist<float>() == (arange(0, 10).to(kF32) * 2).tolist<float>());
  }
}
