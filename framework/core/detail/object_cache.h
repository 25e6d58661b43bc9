#pragma once
// A per-thread cache of fixed-size blocks for objects allocated on every op (TensorImpl, Storage): a free list in
// thread-local storage, so the steady state of an eager loop never reaches malloc. A block freed on another thread
// joins that thread's cache; each cache holds at most kCap blocks and the rest go back to the heap.
#include <cstddef>
#include <new>

namespace ds::detail {

template <size_t Size>
class ObjectCache {
 public:
  static void* allocate() {
    if (!destroyed_) {
      Cache& c = cache();
      if (c.n > 0) return c.items[--c.n];
    }
    return ::operator new(Size);
  }
  static void deallocate(void* p) noexcept {
    if (!destroyed_) {
      Cache& c = cache();
      if (c.n < kCap) {
        c.items[c.n++] = p;
        return;
      }
    }
    ::operator delete(p);
  }

 private:
  static constexpr int kCap = 256;
  struct Cache {
    void* items[kCap];
    int n = 0;
    ~Cache() {
      for (int i = 0; i < n; ++i) ::operator delete(items[i]);
      destroyed_ = true;  // objects freed later on this thread (static tensors at exit) go to the heap
    }
  };
  static Cache& cache() {
    thread_local Cache c;
    return c;
  }
  static inline thread_local bool destroyed_ = false;  // trivially destructible: readable after the cache is gone
};

}  // namespace ds::detail
