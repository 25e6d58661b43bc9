// The index kernels (ops/cuda/index.cu) where the op table's small cases do not reach: sorts of long lines (many
// bitonic stages, padding), ties and NaN in the CPU's stable order, atomic adds on every dtype with repeated
// indices, the embedding's gradient, and out-of-range indices reported at the next synchronisation.
#include <catch2/catch.hpp>

#include <ds/ds.h>

#include "cuda_test_util.h"

using namespace ds;

TEST_CASE("cuda sort and topk: long lines, ties and NaN in the CPU's order", "[cuda]") {
  Generator g(21);
  // Rounded to a few values: many ties, which a stable order must keep by index.
  Tensor x = round(randn({3, 5000}, {}, &g) * 4);
  x.narrow(1, 17, 1).fill_(std::numeric_limits<double>::quiet_NaN());
  for (bool desc : {false, true}) {
    const auto [v, i] = sort(x.to(kCUDA), 1, desc);
    const auto [vc, ic] = sort(x, 1, desc);
    check_cuda_close(v, vc);
    check_cuda_close(i, ic);
  }
  const auto [tv, ti] = topk(x.to(kCUDA).t(), 7, 0);  // along a strided dim
  const auto [tvc, tic] = topk(x.t(), 7, 0);
  check_cuda_close(tv, tvc);
  check_cuda_close(ti, tic);
  const auto [iv, ii] = sort(randint(-1000, 1000, {4, 333}, {.dtype = kI32}, &g).to(kCUDA), 1);
  CHECK(sum(iv.to(kCPU).narrow(1, 1, 332) < iv.to(kCPU).narrow(1, 0, 332)).item<int64_t>() == 0);
}

TEST_CASE("cuda scatter_add and index_add: repeated indices add up in every dtype", "[cuda]") {
  for (DType dt : {kF32, kF64, kF16, kBF16, kI64, kI32, kI8, kU8}) {
    INFO(dtype_name(dt));
    // 1000 adds of 1 into 10 slots: exact in every dtype but the 16-bit floats, whose sums of 100 ones are exact too.
    const Tensor index = arange(0, 10, 1, TensorOptions{.dtype = kI64}).unsqueeze(0).expand({100, 10}).reshape({1000});
    const Tensor src = ones({1000}, {.dtype = dt});
    const Tensor want = full({10}, 100, {.dtype = dt});
    check_cuda_close(scatter_add(zeros({10}, {.dtype = dt, .device = kCUDA}), 0, index.to(kCUDA), src.to(kCUDA)), want);
    check_cuda_close(index_add(zeros({10, 3}, {.dtype = dt, .device = kCUDA}), 0, index.to(kCUDA),
                         ones({1000, 3}, {.dtype = dt, .device = kCUDA})),
               full({10, 3}, 100, {.dtype = dt}));
  }
  // bool scatter_add is a logical or.
  const Tensor b = scatter_add(zeros({4}, {.dtype = kBool, .device = kCUDA}), 0,
                               full({3}, 2, {.dtype = kI64, .device = kCUDA}), ones({3}, {.dtype = kBool, .device = kCUDA}));
  CHECK(b.to(kI64).to(kCPU).tolist<int64_t>() == std::vector<int64_t>{0, 0, 1, 0});
}

TEST_CASE("cuda embedding: forward and the gradient of repeated tokens", "[cuda][autograd]") {
  Generator g(22);
  const Tensor w = randn({50, 16}, {}, &g);
  const Tensor tokens = randint(0, 50, {8, 64}, {.dtype = kI64}, &g);
  Tensor wc = w.clone().requires_grad_(), wg = w.to(kCUDA).requires_grad_();
  const Tensor up = randn({8, 64, 16}, {}, &g);
  (embedding(wc, tokens) * up).sum().backward();
  (embedding(wg, tokens.to(kCUDA)) * up.to(kCUDA)).sum().backward();
  check_cuda_close(wg.grad(), wc.grad(), 1e-5);
}

TEST_CASE("cuda index ops: an index out of range is an error at the next synchronisation", "[cuda]") {
  const Tensor x = ones({4, 5}, {.device = kCUDA});
  const Tensor bad = full({2}, 7, {.dtype = kI64, .device = kCUDA});
  Tensor y = index_select(x, 1, bad);  // queued: the kernel records the index and skips it
  CHECK_THROWS_WITH(y.to(kCPU), Catch::Contains("[index_select] index 7 is out of bounds for dimension 1 with size 5"));
  // Reported once: the next copy is clean.
  CHECK(index_select(x, 1, full({2}, 4, {.dtype = kI64, .device = kCUDA})).to(kCPU).sum().item<double>() == 8);
  Tensor z = gather(x, 0, full({1, 5}, -1, {.dtype = kI64, .device = kCUDA}));
  CHECK_THROWS_WITH(cuda_synchronize(), Catch::Contains("[gather] index -1 is out of bounds for dimension 0 with size 4"));
}
