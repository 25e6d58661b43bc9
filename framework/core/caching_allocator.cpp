#include "caching_allocator.h"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "detail/check.h"

namespace ds {

// A block is a piece of one segment. The blocks of a segment form a doubly linked list in address order; the
// first block's object (the head) lives as long as the segment, because merging always keeps the lower block.
namespace detail {
struct CacheBlock {
  char* ptr = nullptr;
  size_t size = 0;       // rounded
  size_t requested = 0;  // as asked (allocated blocks only), for live_bytes
  StreamId stream = 0;
  bool small = false;
  bool allocated = false;
  CacheBlock* prev = nullptr;
  CacheBlock* next = nullptr;
};
}  // namespace detail

namespace {
using Block = detail::CacheBlock;
// Free blocks ordered by (stream, size, address): lower_bound on (stream, n, 0) is the best fit on that stream.
struct BlockLess {
  bool operator()(const Block* a, const Block* b) const {
    return std::make_tuple(a->stream, a->size, reinterpret_cast<uintptr_t>(a->ptr)) <
           std::make_tuple(b->stream, b->size, reinterpret_cast<uintptr_t>(b->ptr));
  }
};
using FreeSet = std::set<Block*, BlockLess>;

std::string mib(int64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }
}  // namespace

struct detail::CachePools {
  FreeSet small, large;
  std::unordered_map<void*, Block*> live;  // allocated blocks by address
  FreeSet& of(bool is_small) { return is_small ? small : large; }
};

CachingAllocator::CachingAllocator(std::unique_ptr<DeviceMemory> memory)
    : memory_(std::move(memory)), pools_(std::make_unique<detail::CachePools>()) {
  DS_CHECK(memory_ != nullptr, "cuda_allocator", "needs a device memory backend");
}

CachingAllocator::~CachingAllocator() {
  std::vector<Block*> heads;
  for (FreeSet* s : {&pools_->small, &pools_->large})
    for (Block* b : *s)
      if (!b->prev) heads.push_back(b);
  for (const auto& [p, b] : pools_->live)
    if (!b->prev) heads.push_back(b);
  for (Block* head : heads) {
    size_t total = 0;
    for (Block* b = head; b; b = b->next) total += b->size;
    try {
      memory_->release(head->ptr, total);
    } catch (...) {  // at teardown the device may be gone already: nothing useful to do
    }
    for (Block* b = head; b;) delete std::exchange(b, b->next);
  }
}

size_t CachingAllocator::round_size(size_t nbytes) {
  if (nbytes < kMinBlockSize) return kMinBlockSize;
  return (nbytes + kMinBlockSize - 1) / kMinBlockSize * kMinBlockSize;
}

size_t CachingAllocator::segment_size(size_t rounded) {
  if (rounded <= kSmallSize) return kSmallBuffer;
  if (rounded < kMinLargeAlloc) return kLargeBuffer;
  return (rounded + kRoundLarge - 1) / kRoundLarge * kRoundLarge;
}

void* CachingAllocator::allocate(size_t nbytes) { return allocate(nbytes, memory_->current_stream()); }

void* CachingAllocator::allocate(size_t nbytes, StreamId stream) {
  if (nbytes == 0) return nullptr;
  const size_t size = round_size(nbytes);
  const bool small = size <= kSmallSize;
  std::lock_guard<std::mutex> lock(mu_);
  Block* b = find_free_block(small, stream, size);
  if (!b) b = new_segment(small, stream, size, nbytes);
  if (b->size - size >= (small ? kMinBlockSize : kSmallSize + 1)) split(b, size);
  b->allocated = true;
  b->requested = nbytes;
  pools_->live.emplace(b->ptr, b);
  allocated_rounded_ += static_cast<int64_t>(b->size);
  stats_.live_bytes += static_cast<int64_t>(nbytes);
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.live_bytes);
  stats_.num_allocs += 1;
  stats_.cached_bytes = stats_.reserved_bytes - allocated_rounded_;
  if (poison_) memory_->fill(b->ptr, nbytes, *poison_);
  return b->ptr;
}

void CachingAllocator::set_poison(std::optional<uint8_t> byte) {
  std::lock_guard<std::mutex> lock(mu_);
  poison_ = byte;
}

// The smallest free block of the pool on `stream` with at least `size` bytes, taken out of the pool.
CachingAllocator::Block* CachingAllocator::find_free_block(bool small, StreamId stream, size_t size) {
  FreeSet& pool = pools_->of(small);
  Block key;
  key.stream = stream;
  key.size = size;
  auto it = pool.lower_bound(&key);
  if (it == pool.end() || (*it)->stream != stream) return nullptr;
  Block* b = *it;
  pool.erase(it);
  return b;
}

// Reserves a fresh segment for a request of `size` (rounded); on failure releases the cache and retries once.
CachingAllocator::Block* CachingAllocator::new_segment(bool small, StreamId stream, size_t size, size_t requested) {
  const size_t seg = segment_size(size);
  void* p = memory_->reserve(seg);
  if (!p) {
    release_cached_segments();
    p = memory_->reserve(seg);
  }
  if (!p) throw_out_of_memory(requested, size, seg);
  auto* b = new Block;
  b->ptr = static_cast<char*>(p);
  b->size = seg;
  b->stream = stream;
  b->small = small;
  stats_.reserved_bytes += static_cast<int64_t>(seg);
  stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
  stats_.num_os_allocs += 1;
  stats_.num_segments += 1;
  return b;
}

// Cuts b to `size` bytes; the rest becomes a free block right after it, back in the pool.
void CachingAllocator::split(Block* b, size_t size) {
  auto* rest = new Block;
  rest->ptr = b->ptr + size;
  rest->size = b->size - size;
  rest->stream = b->stream;
  rest->small = b->small;
  rest->prev = b;
  rest->next = b->next;
  if (b->next) b->next->prev = rest;
  b->next = rest;
  b->size = size;
  pools_->of(b->small).insert(rest);
}

void CachingAllocator::deallocate(void* p, size_t nbytes) noexcept {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_->live.find(p);
  if (it == pools_->live.end()) {
    // Freeing memory this allocator does not own is a bug in ds that would corrupt the pools: stop here.
    std::fprintf(stderr, "[cuda_allocator] free of %p (%zu bytes) on %s, which this allocator did not allocate\n", p,
                 nbytes, memory_->device().str().c_str());
    std::abort();
  }
  Block* b = it->second;
  pools_->live.erase(it);
  allocated_rounded_ -= static_cast<int64_t>(b->size);
  stats_.live_bytes -= static_cast<int64_t>(b->requested);
  stats_.num_frees += 1;
  free_block(b);
  stats_.cached_bytes = stats_.reserved_bytes - allocated_rounded_;
}

// Marks b free, merges it with free neighbours of its segment, and returns the result to its pool.
void CachingAllocator::free_block(Block* b) {
  FreeSet& pool = pools_->of(b->small);
  b->allocated = false;
  b->requested = 0;
  if (Block* prev = b->prev; prev && !prev->allocated) {
    pool.erase(prev);  // before its size changes: the set is ordered by size
    prev->size += b->size;
    prev->next = b->next;
    if (b->next) b->next->prev = prev;
    delete b;
    b = prev;
  }
  if (Block* next = b->next; next && !next->allocated) {
    pool.erase(next);
    b->size += next->size;
    b->next = next->next;
    if (next->next) next->next->prev = b;
    delete next;
  }
  pool.insert(b);
}

// Returns to the device every segment that is one free block (nothing in it allocated).
void CachingAllocator::release_cached_segments() {
  for (FreeSet* pool : {&pools_->small, &pools_->large}) {
    for (auto it = pool->begin(); it != pool->end();) {
      Block* b = *it;
      if (b->prev || b->next) {
        ++it;
        continue;
      }
      memory_->release(b->ptr, b->size);
      stats_.reserved_bytes -= static_cast<int64_t>(b->size);
      stats_.num_segments -= 1;
      it = pool->erase(it);
      delete b;
    }
  }
  stats_.cached_bytes = stats_.reserved_bytes - allocated_rounded_;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_segments();
}

void CachingAllocator::throw_out_of_memory(size_t requested, size_t rounded, size_t segment) {
  stats_.cached_bytes = stats_.reserved_bytes - allocated_rounded_;
  DS_FAIL("cuda_allocator",
          "out of memory on {} allocating {} bytes (rounded to {}, needing a new segment of {}); after releasing "
          "the cached segments the device still refused. Memory: {}",
          memory_->device().str(), requested, rounded, mib(static_cast<int64_t>(segment)), format_memory_stats(stats_));
}

Device CachingAllocator::device() const { return memory_->device(); }

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_bytes = stats_.live_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

std::string format_memory_stats(const MemoryStats& s) {
  return fmt::format("allocated {} (peak {}), reserved {} (peak {}), cached {}, {} segments, {} allocs, {} frees",
                     mib(s.live_bytes), mib(s.peak_bytes), mib(s.reserved_bytes), mib(s.peak_reserved_bytes),
                     mib(s.cached_bytes), s.num_segments, s.num_allocs, s.num_frees);
}

}  // namespace ds
