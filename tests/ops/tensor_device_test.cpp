// Tensor::to(device) (ops/defs/factory.cpp's to_device) where no device is needed: a missing GPU, the gradient
// of a copy; copies between devices are tested in tests/cuda.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/ops/dispatch.h>

using namespace ds;

TEST_CASE("to(cuda) without a GPU is an error naming the device", "[allocator]") {
  if (cuda_device_count() > 0) return;  // tests/cuda cover machines with one
  CHECK_THROWS_WITH(ones({3}).to(kCUDA), Catch::Contains("cuda:0"));
  if (cuda_built()) {
    CHECK_THROWS_WITH(ones({3}).to(kCUDA), Catch::Contains("no CUDA device"));
    CHECK_THROWS_WITH(cuda_synchronize(), Catch::Contains("has 0 CUDA device(s)"));
  }
}

TEST_CASE("to(device) is an op with a gradient: the same device returns the tensor, a copy keeps the graph",
          "[autograd]") {
  const Tensor w = tensor({1.0, 2.0, 3.0}).requires_grad_(true);
  CHECK(w.to(kCPU).is_same(w));
  // Through the op itself (a CPU to CPU copy): the gradient flows back.
  const Tensor y = call_op1(OpId::to_device, {w}, ToDeviceAttrs{.device = kCPU, .from = kCPU});
  CHECK(!y.is_same(w));
  (y * y).sum().backward();
  CHECK(w.grad().tolist<float>() == std::vector<float>{2, 4, 6});
  CHECK_THROWS_WITH(
      call_op1(OpId::to_device, {w.detach().expand({2, 3})}, ToDeviceAttrs{.device = kCPU, .from = kCPU}),
      Catch::Contains("[to_device] expects a contiguous input"));
}
