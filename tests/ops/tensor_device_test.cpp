// Tensor::to(device) where the device is missing or the copy would cut the autograd graph (ops/tensor.cpp); the
// copies themselves are tested in tests/cuda.
#include <catch2/catch.hpp>

#include <ds/ds.h>

using namespace ds;

TEST_CASE("to(cuda) without a GPU is an error naming the device", "[allocator]") {
  if (cuda_device_count() > 0) return;  // tests/cuda cover machines with one
  CHECK_THROWS_WITH(ones({3}).to(kCUDA), Catch::Contains("cuda:0"));
  if (cuda_built()) {
    CHECK_THROWS_WITH(ones({3}).to(kCUDA), Catch::Contains("no CUDA device"));
    CHECK_THROWS_WITH(cuda_synchronize(), Catch::Contains("has 0 CUDA device(s)"));
  }
}

TEST_CASE("to(device) of a tensor that requires grad is refused while grad mode is on", "[allocator]") {
  const Tensor w = ones({2}).requires_grad_(true);
  CHECK_THROWS_WITH(w.to(kCUDA), Catch::Contains("[to]") && Catch::Contains("not differentiable yet"));
}
