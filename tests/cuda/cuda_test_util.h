#pragma once
// Helpers of the CUDA tests.
#include <string>

#include <ds/core/caching_allocator.h>
#include <ds/ds.h>

#include "../test_util.h"

// For the scope, every CUDA allocation is filled with 0xff bytes (NaN for floats, -1 for integers), so that an
// output element a kernel leaves unwritten shows.
struct PoisonCudaMemory {
  PoisonCudaMemory() { allocator().set_poison(0xff); }
  ~PoisonCudaMemory() { allocator().set_poison(std::nullopt); }
  static ds::CachingAllocator& allocator() { return dynamic_cast<ds::CachingAllocator&>(ds::allocator_for(ds::kCUDA)); }
};

// gpu (a CUDA tensor) equals cpu within tol (all_close's measure: |a - b| <= tol (1 + |b|), NaN equal to NaN),
// after a copy to the CPU in cpu's dtype.
inline void check_cuda_close(const ds::Tensor& gpu, const ds::Tensor& cpu, double tol = 0) {
  REQUIRE(gpu.is_cuda());
  std::string why;
  DS_CHECK_MSG(all_close(gpu.to(ds::kCPU).to(cpu.dtype()), cpu, tol, why), why);
}
