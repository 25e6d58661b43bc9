// The CUDA backend's device memory: tensors to and from the GPU through the caching allocator, its statistics and
// out-of-memory error (tests/cuda/main.cpp says where they run).
#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>

#include <ds/core/caching_allocator.h>
#include <ds/ds.h>

using namespace ds;

TEST_CASE("cuda memory: tensors round-trip host -> device -> device -> host", "[cuda]") {
  const Tensor x = arange(0, 1000).to(kF32).reshape({10, 100});
  const Tensor g = x.to(kCUDA);
  CHECK(g.device() == kCUDA);
  CHECK(g.sizes() == x.sizes());
  const Tensor g2 = g.to(kCUDA);  // same device: the same tensor
  CHECK(g2.data() == g.data());
  CHECK(g.to(kCPU).tolist<float>() == x.tolist<float>());
  CHECK(g.select(0, 3).select(0, 7).item<float>() == 307.0f);
  // A non-contiguous source is made contiguous on the host before the copy.
  CHECK(x.t().to(kCUDA).to(kCPU).tolist<float>() == x.t().contiguous().tolist<float>());
  if (cuda_device_count() > 1) {
    const Tensor g1 = g.to(Device(DeviceType::CUDA, 1));
    CHECK(g1.to(kCPU).tolist<float>() == x.tolist<float>());
  }
}

TEST_CASE("cuda memory: the caching allocator reuses freed blocks and reports statistics", "[cuda]") {
  Allocator& a = allocator_for(kCUDA);
  cuda_synchronize();
  a.empty_cache();
  const MemoryStats before = a.stats();
  void* p = nullptr;
  {
    const Tensor t = zeros({1 << 20}).to(kCUDA);  // 4 MiB: a 20 MiB segment of the large pool
    p = t.data();
    const MemoryStats s = a.stats();
    CHECK(s.live_bytes == before.live_bytes + (4 << 20));
    CHECK(s.reserved_bytes >= before.reserved_bytes + (20 << 20));
    CHECK(s.num_allocs == before.num_allocs + 1);
  }
  CHECK(a.stats().live_bytes == before.live_bytes);
  CHECK(a.stats().num_frees == before.num_frees + 1);
  const int64_t segments = a.stats().num_os_allocs;
  {
    const Tensor t = zeros({1 << 20}).to(kCUDA);
    CHECK(t.data() == p);  // the cached block, without a new cudaMalloc
    CHECK(a.stats().num_os_allocs == segments);
  }
  cuda_synchronize();
  a.empty_cache();
  CHECK(a.stats().reserved_bytes == before.reserved_bytes);
}

TEST_CASE("cuda memory: an impossible allocation is an out-of-memory error with the statistics", "[cuda]") {
  Allocator& a = allocator_for(kCUDA);
  const int64_t live = a.stats().live_bytes;
  CHECK_THROWS_WITH(a.allocate(size_t{1} << 50),
                    Catch::Contains("[cuda_allocator] out of memory on cuda:0 allocating 1125899906842624 bytes") &&
                        Catch::Contains("reserved"));
  CHECK(a.stats().live_bytes == live);
  // The device is still usable afterwards: the failed cudaMalloc left no error behind.
  CHECK(ones({4}).to(kCUDA).to(kCPU).tolist<float>() == std::vector<float>{1, 1, 1, 1});
}

TEST_CASE("cuda memory: a device that does not exist is named in the error", "[cuda]") {
  const Device missing(DeviceType::CUDA, cuda_device_count());
  CHECK_THROWS_WITH(ones({2}).to(missing), Catch::Contains(missing.str() + " does not exist"));
}
