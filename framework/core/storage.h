#pragma once
// Storage: a reference-counted block of device memory that tensors view. The version counter lives here, so every
// view of the same memory (and every detached alias) sees in-place changes, which is how autograd detects that a
// tensor saved for backward was modified.
#include <cstddef>
#include <cstdint>

#include "allocator.h"
#include "intrusive_ptr.h"

namespace ds {

class Storage : public RefCounted {
 public:
  // Allocates nbytes from the device's allocator.
  Storage(size_t nbytes, Allocator& allocator);
  // Wraps memory owned elsewhere (from_blob): never freed by ds; deleter called instead when not null.
  Storage(void* data, size_t nbytes, Device device, void (*deleter)(void*, void*), void* deleter_ctx);
  ~Storage() override;

  static void* operator new(size_t n);
  static void operator delete(void* p) noexcept;

  void* data() const noexcept { return data_; }
  size_t nbytes() const noexcept { return nbytes_; }
  Device device() const noexcept { return device_; }
  uint32_t version() const noexcept { return version_.load(std::memory_order_relaxed); }
  void bump_version() noexcept { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_;
  size_t nbytes_;
  Device device_;
  Allocator* allocator_;  // null for external memory
  void (*deleter_)(void*, void*) = nullptr;
  void* deleter_ctx_ = nullptr;
  std::atomic<uint32_t> version_{0};
};

}  // namespace ds
