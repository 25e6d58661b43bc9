#pragma once
// The caching device allocator (the policy of PyTorch's CUDACachingAllocator), written over an abstract source of
// raw device memory so that it is plain C++ and tested on the CPU with a host-memory backend. The CUDA backend
// (ops/cuda/memory.cpp) gives it cudaMalloc/cudaFree.
//
// Policy: requests are rounded up to 512 bytes. Requests of at most 1 MiB come from the small pool, whose segments
// are 2 MiB; larger ones from the large pool, whose segments are 20 MiB for requests under 10 MiB and the request
// rounded up to 2 MiB otherwise. A request takes the smallest cached free block of its pool and stream that fits
// (best fit), splitting off the rest when the rest is worth keeping (>= 512 B in the small pool, > 1 MiB in the
// large). A freed block merges with free neighbours of its segment and returns to the pool of the stream it was
// allocated on, so memory is reused on that stream without synchronisation. When the device refuses a segment,
// every wholly free cached segment is released and the request retried once; then it fails with ds::Error
// "[cuda_allocator] out of memory ..." naming the request and printing the statistics.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "allocator.h"

namespace ds {

namespace detail {
struct CacheBlock;
struct CachePools;
}  // namespace detail

// A stream handle as the allocator sees it: an opaque id (a cudaStream_t's value for CUDA; 0 is the default stream).
using StreamId = uintptr_t;

// Raw device memory: segments obtained from and returned to the device (cudaMalloc and cudaFree for CUDA).
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  // Returns nbytes of device memory, or nullptr when the device is out of memory; other failures throw.
  virtual void* reserve(size_t nbytes) = 0;
  // Gives back a segment returned by reserve(), of the same size.
  virtual void release(void* p, size_t nbytes) = 0;
  // The stream the calling thread's work goes to now on this device.
  virtual StreamId current_stream() const = 0;
  virtual Device device() const = 0;
  // Sets nbytes at p to `byte` on the current stream (the allocator's poisoning; see set_poison).
  virtual void fill(void* p, size_t nbytes, uint8_t byte) = 0;
};

class CachingAllocator final : public Allocator {
 public:
  static constexpr size_t kMinBlockSize = 512;          // every block is a multiple of this
  static constexpr size_t kSmallSize = size_t{1} << 20;  // requests up to this use the small pool
  static constexpr size_t kSmallBuffer = size_t{2} << 20;   // segment size of the small pool
  static constexpr size_t kLargeBuffer = size_t{20} << 20;  // segment size for "medium" large requests
  static constexpr size_t kMinLargeAlloc = size_t{10} << 20;  // requests from here get a segment of their own
  static constexpr size_t kRoundLarge = size_t{2} << 20;      // those segments are rounded up to this

  explicit CachingAllocator(std::unique_ptr<DeviceMemory> memory);
  ~CachingAllocator() override;  // releases every segment; blocks still in use are abandoned with them

  // Memory of at least nbytes on the calling thread's current stream; nullptr for 0 bytes.
  void* allocate(size_t nbytes) override;
  // The same on a given stream: the block returns to that stream's pool when freed.
  void* allocate(size_t nbytes, StreamId stream);
  // Frees a block from allocate(); nbytes is the size it was asked with. An unknown pointer aborts (a ds bug).
  void deallocate(void* p, size_t nbytes) noexcept override;
  Device device() const override;
  MemoryStats stats() const override;
  void reset_peak() override;
  // Releases every segment that holds no allocated block.
  void empty_cache() override;

  // With a byte, every block handed out is first filled with it (0xff: NaN in every float type, -1 in integers), so
  // a kernel that leaves an output element unwritten shows it; tests turn it on, as does DS_CUDA_POISON=1.
  void set_poison(std::optional<uint8_t> byte);

  // The size class a request of nbytes is rounded to, and the segment a new one would be carved from.
  static size_t round_size(size_t nbytes);
  static size_t segment_size(size_t rounded);

 private:
  using Block = detail::CacheBlock;
  Block* find_free_block(bool small, StreamId stream, size_t size);
  Block* new_segment(bool small, StreamId stream, size_t size, size_t requested);
  void split(Block* b, size_t size);
  void free_block(Block* b);
  void release_cached_segments();
  [[noreturn]] void throw_out_of_memory(size_t requested, size_t rounded, size_t segment);

  std::unique_ptr<DeviceMemory> memory_;
  std::unique_ptr<detail::CachePools> pools_;
  mutable std::mutex mu_;
  MemoryStats stats_;
  int64_t allocated_rounded_ = 0;
  std::optional<uint8_t> poison_;  // bytes of allocated blocks (rounded sizes); reserved - this = cached
};

// "allocated 1.5 MiB (peak 2.0 MiB), reserved 20.0 MiB (peak 22.0 MiB), cached 18.5 MiB, 3 segments, 10 allocs,
// 7 frees": one line for errors and logs.
std::string format_memory_stats(const MemoryStats& s);

}  // namespace ds
