#pragma once
// Allocators hand out device memory for Storage. The CPU allocator pools 64-byte-aligned blocks by size class so
// that the steady state of a training loop allocates nothing from the OS, and it reports live and peak bytes.
#include <cstddef>
#include <cstdint>

#include "device.h"

namespace ds {

struct MemoryStats {
  int64_t live_bytes = 0;      // bytes of tensors alive now (as requested)
  int64_t peak_bytes = 0;      // highest live_bytes since the last reset_peak()
  int64_t reserved_bytes = 0;  // bytes held from the OS: blocks in use plus cached free blocks
  int64_t cached_bytes = 0;    // free blocks kept for reuse
  int64_t num_allocs = 0;      // allocations served
  int64_t num_os_allocs = 0;   // of which needed fresh memory from the OS (device allocators: segments reserved)
  // Kept by the caching device allocator only (0 for the CPU pool, whose hot path stays free of extra counters):
  int64_t peak_reserved_bytes = 0;  // highest reserved_bytes since the last reset_peak()
  int64_t num_frees = 0;            // deallocations served
  int64_t num_segments = 0;         // segments held from the device now
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* p, size_t nbytes) noexcept = 0;
  virtual Device device() const = 0;
  virtual MemoryStats stats() const = 0;
  virtual void reset_peak() = 0;
  // Returns every cached free block to the OS.
  virtual void empty_cache() = 0;
};

// Observes allocations (the memory profiler): called with +bytes on allocate and -bytes on free.
using AllocationObserver = void (*)(Device device, int64_t delta_bytes, void* ctx);
void set_allocation_observer(AllocationObserver observer, void* ctx);

Allocator& cpu_allocator();
// The allocator for a device; throws for a device whose backend is not built.
Allocator& allocator_for(Device d);
// Registers the allocator of a non-CPU device type (the CUDA backend does this when it is built).
void register_allocator(DeviceType type, Allocator* (*factory)(int index));

inline constexpr size_t kCpuAlignment = 64;

}  // namespace ds
