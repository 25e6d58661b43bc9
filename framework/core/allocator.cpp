#include "allocator.h"

#include <array>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "error.h"

namespace ds {
namespace {

// Size classes: multiples of 64 B up to 1 KiB, then 8 classes per power of two (at most 12.5% rounding waste).
constexpr size_t kSmall = 1024;
constexpr int kClassesPerOctave = 8;
constexpr int kNumClasses = 16 + (63 - 10 + 1) * kClassesPerOctave;  // octaves 2^10 .. 2^63

int size_class(size_t n, size_t* rounded) {
  if (n <= kSmall) {
    size_t c = (n + 63) / 64;
    if (c == 0) c = 1;
    *rounded = c * 64;
    return static_cast<int>(c - 1);
  }
  const int octave = std::bit_width(n - 1) - 1;  // 2^octave < n <= 2^(octave+1)
  const size_t step = (size_t{1} << octave) / kClassesPerOctave;
  const size_t k = (n - (size_t{1} << octave) + step - 1) / step;  // 1..8
  *rounded = (size_t{1} << octave) + k * step;
  return 16 + (octave - 10) * kClassesPerOctave + static_cast<int>(k - 1);
}

AllocationObserver g_observer = nullptr;
void* g_observer_ctx = nullptr;

// Blocks of the small classes (up to 64 KiB) are also cached per thread, so the allocations of an eager loop take
// no lock; larger ones go through one mutex-protected set of free lists. Statistics are atomic counters.
constexpr int kThreadClasses = 16 + 6 * kClassesPerOctave;  // sizes up to 64 KiB
constexpr int kThreadCap = 16;                              // blocks per class per thread

class CpuPoolAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    size_t rounded = 0;
    const int cls = size_class(nbytes, &rounded);
    num_allocs_.fetch_add(1, std::memory_order_relaxed);
    note_live(static_cast<int64_t>(nbytes));
    void* p = nullptr;
    if (cls < kThreadClasses) {
      if (ThreadCache* tc = thread_cache(); tc && tc->n[cls] > 0) p = tc->items[cls][--tc->n[cls]];
    }
    if (!p) {
      std::lock_guard<std::mutex> lock(mu_);
      auto& list = free_[cls];
      if (!list.empty()) {
        p = list.back();
        list.pop_back();
      }
    }
    if (p) {
      cached_.fetch_sub(static_cast<int64_t>(rounded), std::memory_order_relaxed);
    } else {
      p = std::aligned_alloc(kCpuAlignment, rounded);
      if (!p) {
        empty_cache();
        p = std::aligned_alloc(kCpuAlignment, rounded);
      }
      if (!p) {
        live_.fetch_sub(static_cast<int64_t>(nbytes), std::memory_order_relaxed);
        throw_error("allocator", "out of CPU memory allocating " + std::to_string(nbytes) + " bytes (live " +
                                     std::to_string(live_.load()) + " bytes)");
      }
      os_allocs_.fetch_add(1, std::memory_order_relaxed);
      reserved_.fetch_add(static_cast<int64_t>(rounded), std::memory_order_relaxed);
    }
    if (g_observer) g_observer(kCPU, static_cast<int64_t>(nbytes), g_observer_ctx);
    return p;
  }

  void deallocate(void* p, size_t nbytes) noexcept override {
    if (!p) return;
    size_t rounded = 0;
    const int cls = size_class(nbytes, &rounded);
    live_.fetch_sub(static_cast<int64_t>(nbytes), std::memory_order_relaxed);
    if (g_observer) g_observer(kCPU, -static_cast<int64_t>(nbytes), g_observer_ctx);
    if (cls < kThreadClasses) {
      if (ThreadCache* tc = thread_cache(); tc && tc->n[cls] < kThreadCap) {
        tc->items[cls][tc->n[cls]++] = p;
        cached_.fetch_add(static_cast<int64_t>(rounded), std::memory_order_relaxed);
        return;
      }
    }
    give_back(cls, rounded, p);
  }

  Device device() const override { return kCPU; }
  MemoryStats stats() const override {
    MemoryStats s;
    s.live_bytes = live_.load();
    s.peak_bytes = peak_.load();
    s.reserved_bytes = reserved_.load();
    s.cached_bytes = cached_.load();
    s.num_allocs = num_allocs_.load();
    s.num_os_allocs = os_allocs_.load();
    return s;
  }
  void reset_peak() override { peak_.store(live_.load()); }
  // Frees the shared free lists and the calling thread's cache.
  void empty_cache() override {
    if (ThreadCache* tc = thread_cache()) tc->flush(*this);
    std::lock_guard<std::mutex> lock(mu_);
    for (int c = 0; c < kNumClasses; ++c) {
      if (free_[c].empty()) continue;
      size_t rounded = 0;
      size_class(class_size(c), &rounded);
      for (void* p : free_[c]) {
        std::free(p);
        cached_.fetch_sub(static_cast<int64_t>(rounded), std::memory_order_relaxed);
        reserved_.fetch_sub(static_cast<int64_t>(rounded), std::memory_order_relaxed);
      }
      free_[c].clear();
    }
  }

 private:
  struct ThreadCache {
    void* items[kThreadClasses][kThreadCap];
    uint8_t n[kThreadClasses] = {};
    CpuPoolAllocator* owner = nullptr;
    void flush(CpuPoolAllocator& a) {
      for (int c = 0; c < kThreadClasses; ++c) {
        if (n[c] == 0) continue;
        size_t rounded = 0;
        size_class(class_size(c), &rounded);
        while (n[c] > 0) {
          a.cached_.fetch_sub(static_cast<int64_t>(rounded), std::memory_order_relaxed);
          a.give_back(c, rounded, items[c][--n[c]]);
        }
      }
    }
    ~ThreadCache() {
      if (owner) flush(*owner);
      tls_gone = true;
    }
  };
  static inline thread_local bool tls_gone = false;

  ThreadCache* thread_cache() {
    if (tls_gone) return nullptr;
    thread_local ThreadCache tc;
    tc.owner = this;
    return &tc;
  }

  // The byte size that maps to class c (its largest member).
  static size_t class_size(int c) {
    if (c < 16) return static_cast<size_t>(c + 1) * 64;
    const int octave = (c - 16) / kClassesPerOctave + 10, k = (c - 16) % kClassesPerOctave + 1;
    return (size_t{1} << octave) + static_cast<size_t>(k) * ((size_t{1} << octave) / kClassesPerOctave);
  }

  void give_back(int cls, size_t rounded, void* p) noexcept {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_.load(std::memory_order_relaxed) + static_cast<int64_t>(rounded) <= cache_limit_) {
        try {
          free_[cls].push_back(p);
          cached_.fetch_add(static_cast<int64_t>(rounded), std::memory_order_relaxed);
          return;
        } catch (...) {
        }
      }
    }
    reserved_.fetch_sub(static_cast<int64_t>(rounded), std::memory_order_relaxed);
    std::free(p);
  }

  void note_live(int64_t delta) {
    const int64_t now = live_.fetch_add(delta, std::memory_order_relaxed) + delta;
    int64_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }

  std::mutex mu_;
  std::array<std::vector<void*>, kNumClasses> free_;
  std::atomic<int64_t> live_{0}, peak_{0}, reserved_{0}, cached_{0}, num_allocs_{0}, os_allocs_{0};
  // Free blocks beyond this are returned to the OS at once.
  int64_t cache_limit_ = int64_t{4} << 30;
};

using AllocatorFactory = Allocator* (*)(int);
AllocatorFactory g_factories[kNumDeviceTypes] = {};

}  // namespace

Allocator& cpu_allocator() {
  static CpuPoolAllocator* a = new CpuPoolAllocator();  // never destroyed: tensors may outlive static teardown
  return *a;
}

void set_allocation_observer(AllocationObserver observer, void* ctx) {
  g_observer = observer;
  g_observer_ctx = ctx;
}

void register_allocator(DeviceType type, Allocator* (*factory)(int)) { g_factories[static_cast<int>(type)] = factory; }

// Meta storages hold no memory: their data pointer is null and no statistics move.
class MetaAllocator final : public Allocator {
 public:
  void* allocate(size_t) override { return nullptr; }
  void deallocate(void*, size_t) noexcept override {}
  Device device() const override { return kMeta; }
  MemoryStats stats() const override { return {}; }
  void reset_peak() override {}
  void empty_cache() override {}
};

Allocator& allocator_for(Device d) {
  if (d.is_cpu()) return cpu_allocator();
  if (d.is_meta()) {
    static MetaAllocator meta;
    return meta;
  }
  AllocatorFactory f = g_factories[static_cast<int>(d.type)];
  if (!f) throw_error("allocator", "device " + d.str() + " is not available: ds was built without its backend");
  return *f(d.index);
}

}  // namespace ds
