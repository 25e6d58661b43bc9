// The reductions' CUDA kernels (ops/cuda/reduce.cu) at the sizes that take each path, which the op table's small
// cases do not reach: rows (a warp per output) with r split over blocks and combined in a second pass, columns (a
// thread per output) with and without splits, strided inputs, and cumsum over many 256-element tiles. Sums are
// compared with the CPU in float64, where both are exact to rounding; extremes and indices must be equal.
#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "cuda_test_util.h"

using namespace ds;

namespace {

// (shape, dims): every shape takes a different path or split count.
struct Case {
  Shape shape;
  Shape dims;
};
const Case kCases[] = {
    {{3, 100000}, {1}},     // rows, few outputs: r split over blocks
    {{4096, 300}, {1}},     // rows, many outputs: no split
    {{100000, 3}, {0}},     // columns, few outputs: split
    {{5000, 700}, {0}},     // columns, many outputs
    {{64, 33, 129}, {0, 2}},  // mixed: reduced dims not adjacent
    {{7, 1, 11}, {1}},      // reducing a size-1 dim
    {{1 << 20}, {0}},       // everything
};
}  // namespace

TEST_CASE("cuda reductions: sum, amax and max_dim match the CPU on every path", "[cuda]") {
  for (const Case& k : kCases) {
    INFO(shape_str(k.shape) << " over " << shape_str(k.dims));
    Generator g(3);
    const Tensor x = randn(k.shape, {.dtype = kF64}, &g);
    const Tensor xg = x.to(kCUDA);
    check_cuda_close(sum(xg, k.dims), sum(x, k.dims), 1e-12);
    check_cuda_close(amax(xg, k.dims, true), amax(x, k.dims, true), 0);
    // A transposed view: the kept and reduced strides swap roles.
    if (x.dim() == 2) check_cuda_close(sum(xg.t(), {0}), sum(x.t(), {0}), 1e-12);
    if (k.dims.size() == 1) {
      const auto [vg, ig] = max(xg, k.dims[0]);
      const auto [vc, ic] = max(x, k.dims[0]);
      check_cuda_close(vg, vc, 0);
      check_cuda_close(ig, ic, 0);
    }
  }
}

TEST_CASE("cuda reductions: 16-bit floats accumulate in float, integers in int64", "[cuda]") {
  // 2^16 ones: a half accumulator would stop at 2048; float gets every one.
  const Tensor h = ones({1 << 16}, {.dtype = kF16, .device = kCUDA});
  CHECK(sum(h.to(kF32)).item<double>() == 65536);
  CHECK(sum(ones({3, 1 << 12}, {.dtype = kBF16, .device = kCUDA}), {1}).to(kF32).to(kCPU).max().item<double>() == 4096);
  const Tensor big = full({1 << 12}, 1 << 30, {.dtype = kI32, .device = kCUDA});
  const Tensor s = sum(big);
  CHECK(s.dtype() == kI64);
  CHECK(s.item<int64_t>() == (int64_t{1} << 42));
}

TEST_CASE("cuda reductions: ties take the first index and NaN wins, as on the CPU", "[cuda]") {
  Tensor x = zeros({2, 5000});
  x.narrow(1, 4000, 1).fill_(1);
  x.narrow(1, 4500, 1).fill_(1);  // a tie: the first index wins
  x.narrow(0, 1, 1).narrow(1, 3000, 1).fill_(std::numeric_limits<double>::quiet_NaN());
  x.narrow(0, 1, 1).narrow(1, 4999, 1).fill_(std::numeric_limits<double>::quiet_NaN());
  const auto [v, i] = max(x.to(kCUDA), 1);
  const auto [vc, ic] = max(x, 1);
  check_cuda_close(i, ic, 0);
  check_cuda_close(v, vc, 0);
  CHECK(i.to(kCPU).tolist<int64_t>()[0] == 4000);
  CHECK(i.to(kCPU).tolist<int64_t>()[1] == 3000);
  CHECK(std::isnan(amax(x.to(kCUDA), {1}).to(kCPU).tolist<float>()[1]));
}

TEST_CASE("cuda reductions: cumsum over many tiles and along a strided dim", "[cuda]") {
  Generator g(5);
  const Tensor x = randn({5, 3001}, {.dtype = kF64}, &g);
  check_cuda_close(cumsum(x.to(kCUDA), 1), cumsum(x, 1), 1e-12);
  check_cuda_close(cumsum(x.to(kCUDA), 0), cumsum(x, 0), 1e-12);
  check_cuda_close(cumsum(x.to(kCUDA).t(), 0), cumsum(x.t(), 0), 1e-12);
  const Tensor n = arange(0, 2000, 1, TensorOptions{.dtype = kI32, .device = kCUDA});
  CHECK(cumsum(n, 0).to(kCPU).tolist<int64_t>()[1999] == 1999 * 2000 / 2);
}
