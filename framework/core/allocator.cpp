#include "allocator.h"

#include <array>
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
constexpr int kNumClasses = 16 + 64 * kClassesPerOctave;

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

class CpuPoolAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    size_t rounded = 0;
    const int cls = size_class(nbytes, &rounded);
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.num_allocs;
      auto& list = free_[cls];
      if (!list.empty()) {
        p = list.back();
        list.pop_back();
        stats_.cached_bytes -= static_cast<int64_t>(rounded);
      }
      stats_.live_bytes += static_cast<int64_t>(nbytes);
      if (stats_.live_bytes > stats_.peak_bytes) stats_.peak_bytes = stats_.live_bytes;
      if (!p) {
        ++stats_.num_os_allocs;
        stats_.reserved_bytes += static_cast<int64_t>(rounded);
      }
    }
    if (!p) {
      p = std::aligned_alloc(kCpuAlignment, rounded);
      if (!p) {
        empty_cache();
        p = std::aligned_alloc(kCpuAlignment, rounded);
      }
      if (!p) {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.live_bytes -= static_cast<int64_t>(nbytes);
        stats_.reserved_bytes -= static_cast<int64_t>(rounded);
        throw_error("allocator", "out of CPU memory allocating " + std::to_string(nbytes) + " bytes (live " +
                                     std::to_string(stats_.live_bytes) + " bytes)");
      }
    }
    if (g_observer) g_observer(kCPU, static_cast<int64_t>(nbytes), g_observer_ctx);
    return p;
  }

  void deallocate(void* p, size_t nbytes) noexcept override {
    if (!p) return;
    size_t rounded = 0;
    const int cls = size_class(nbytes, &rounded);
    bool keep = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.live_bytes -= static_cast<int64_t>(nbytes);
      if (stats_.cached_bytes + static_cast<int64_t>(rounded) <= cache_limit_) {
        try {
          free_[cls].push_back(p);
          keep = true;
          stats_.cached_bytes += static_cast<int64_t>(rounded);
        } catch (...) {
        }
      }
      if (!keep) stats_.reserved_bytes -= static_cast<int64_t>(rounded);
    }
    if (!keep) std::free(p);
    if (g_observer) g_observer(kCPU, -static_cast<int64_t>(nbytes), g_observer_ctx);
  }

  Device device() const override { return kCPU; }
  MemoryStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_bytes = stats_.live_bytes;
  }
  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (int c = 0; c < kNumClasses; ++c) {
      for (void* p : free_[c]) std::free(p);
      free_[c].clear();
    }
    stats_.reserved_bytes -= stats_.cached_bytes;
    stats_.cached_bytes = 0;
  }

 private:
  mutable std::mutex mu_;
  std::array<std::vector<void*>, kNumClasses> free_;
  MemoryStats stats_;
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

Allocator& allocator_for(Device d) {
  if (d.is_cpu()) return cpu_allocator();
  AllocatorFactory f = g_factories[static_cast<int>(d.type)];
  if (!f) throw_error("allocator", "device " + d.str() + " is not available: ds was built without its backend");
  return *f(d.index);
}

}  // namespace ds
