#pragma once
// Intrusive reference counting for tensors and storages: one atomic counter inside the object, no control block,
// so handing a tensor around costs an increment, not an allocation.
#include <atomic>
#include <cstdint>
#include <utility>

namespace ds {

class RefCounted {
 public:
  RefCounted() = default;
  RefCounted(const RefCounted&) = delete;
  RefCounted& operator=(const RefCounted&) = delete;
  virtual ~RefCounted() = default;
  int32_t use_count() const noexcept { return refs_.load(std::memory_order_relaxed); }

 private:
  template <typename T> friend class IntrusivePtr;
  void retain() const noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  // Returns true when the last reference went away.
  bool release() const noexcept { return refs_.fetch_sub(1, std::memory_order_acq_rel) == 1; }
  mutable std::atomic<int32_t> refs_{0};
};

template <typename T>
class IntrusivePtr {
 public:
  IntrusivePtr() noexcept = default;
  IntrusivePtr(std::nullptr_t) noexcept {}  // NOLINT
  explicit IntrusivePtr(T* p) noexcept : p_(p) { if (p_) p_->retain(); }
  IntrusivePtr(const IntrusivePtr& o) noexcept : p_(o.p_) { if (p_) p_->retain(); }
  IntrusivePtr(IntrusivePtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <typename U>
  IntrusivePtr(const IntrusivePtr<U>& o) noexcept : p_(o.get()) { if (p_) p_->retain(); }  // NOLINT
  IntrusivePtr& operator=(const IntrusivePtr& o) noexcept { IntrusivePtr(o).swap(*this); return *this; }
  IntrusivePtr& operator=(IntrusivePtr&& o) noexcept { IntrusivePtr(std::move(o)).swap(*this); return *this; }
  ~IntrusivePtr() { reset(); }

  void reset() noexcept {
    if (p_ && p_->release()) delete p_;
    p_ = nullptr;
  }
  void swap(IntrusivePtr& o) noexcept { std::swap(p_, o.p_); }
  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  bool operator==(const IntrusivePtr& o) const noexcept { return p_ == o.p_; }

  template <typename... A>
  static IntrusivePtr make(A&&... a) { return IntrusivePtr(new T(std::forward<A>(a)...)); }

 private:
  T* p_ = nullptr;
};

}  // namespace ds
