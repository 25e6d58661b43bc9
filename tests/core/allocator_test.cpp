// The pooled CPU allocator: alignment, live and peak accounting, reuse without OS allocations, empty_cache.
#include <cstdint>

#include <catch2/catch.hpp>

#include <ds/ds.h>

using namespace ds;

TEST_CASE("CPU tensors are 64-byte aligned", "[core]") {
  for (int64_t n : {1, 3, 17, 1000, 100000}) {
    const Tensor t = empty({n});
    CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  }
}

TEST_CASE("the allocator reports live and peak bytes", "[core]") {
  Allocator& a = cpu_allocator();
  const int64_t base = a.stats().live_bytes;
  a.reset_peak();
  {
    const Tensor t = empty({1000});  // 4000 bytes
    CHECK(a.stats().live_bytes == base + 4000);
    {
      const Tensor u = empty({250}, {.dtype = kF64});  // 2000 bytes
      CHECK(a.stats().live_bytes == base + 6000);
    }
    CHECK(a.stats().live_bytes == base + 4000);
  }
  CHECK(a.stats().live_bytes == base);
  CHECK(a.stats().peak_bytes >= base + 6000);
  a.reset_peak();
  CHECK(a.stats().peak_bytes == a.stats().live_bytes);
}

TEST_CASE("a steady loop reuses pooled blocks instead of asking the OS", "[core]") {
  Allocator& a = cpu_allocator();
  for (int i = 0; i < 10; ++i) {
    Tensor t = empty({12345});
    Tensor u = empty({3, 7});
  }
  const int64_t before = a.stats().num_os_allocs;
  for (int i = 0; i < 1000; ++i) {
    Tensor t = empty({12345});
    Tensor u = empty({3, 7});
  }
  CHECK(a.stats().num_os_allocs == before);
}

TEST_CASE("empty_cache returns cached blocks", "[core]") {
  Allocator& a = cpu_allocator();
  { Tensor big = empty({1 << 20}); }  // 4 MiB, beyond the per-thread cache: kept in the shared pool
  CHECK(a.stats().cached_bytes >= (4 << 20));
  a.empty_cache();
  CHECK(a.stats().cached_bytes < (4 << 20));
  CHECK(a.stats().reserved_bytes >= a.stats().live_bytes);
}
