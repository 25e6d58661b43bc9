#pragma once
// For the scope, every CUDA allocation is filled with 0xff bytes (NaN for floats, -1 for integers), so that an
// output element a kernel leaves unwritten shows.
#include <ds/core/caching_allocator.h>
#include <ds/ds.h>

struct PoisonCudaMemory {
  PoisonCudaMemory() { allocator().set_poison(0xff); }
  ~PoisonCudaMemory() { allocator().set_poison(std::nullopt); }
  static ds::CachingAllocator& allocator() { return dynamic_cast<ds::CachingAllocator&>(ds::allocator_for(ds::kCUDA)); }
};
