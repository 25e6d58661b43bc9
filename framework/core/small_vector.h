#pragma once
// SmallVec<T, N>: a vector that keeps up to N elements inline (no heap allocation), for shapes, strides and the
// short tensor lists an op call passes around. T must be nothrow-movable.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace ds {

template <typename T, size_t N>
class SmallVec {
 public:
  using value_type = T;
  using iterator = T*;
  using const_iterator = const T*;

  SmallVec() noexcept {}  // user-provided, so value-initialisation does not zero the inline buffer
  explicit SmallVec(size_t n, const T& v = T()) { assign(n, v); }
  SmallVec(std::initializer_list<T> il) { append(il.begin(), il.end()); }
  template <typename It, typename = decltype(*std::declval<It>())>
  SmallVec(It first, It last) { append(first, last); }
  SmallVec(std::span<const T> s) { append(s.begin(), s.end()); }  // NOLINT: implicit, like a view
  SmallVec(const SmallVec& o) { append(o.begin(), o.end()); }
  SmallVec(SmallVec&& o) noexcept { take(std::move(o)); }
  SmallVec& operator=(const SmallVec& o) {
    if (this != &o) { clear(); append(o.begin(), o.end()); }
    return *this;
  }
  SmallVec& operator=(SmallVec&& o) noexcept {
    if (this != &o) { destroy(); take(std::move(o)); }
    return *this;
  }
  ~SmallVec() { destroy(); }

  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T* data() noexcept { return ptr(); }
  const T* data() const noexcept { return ptr(); }
  T* begin() noexcept { return ptr(); }
  T* end() noexcept { return ptr() + size_; }
  const T* begin() const noexcept { return ptr(); }
  const T* end() const noexcept { return ptr() + size_; }
  T& operator[](size_t i) noexcept { return ptr()[i]; }
  const T& operator[](size_t i) const noexcept { return ptr()[i]; }
  T& back() noexcept { return ptr()[size_ - 1]; }
  const T& back() const noexcept { return ptr()[size_ - 1]; }
  T& front() noexcept { return ptr()[0]; }
  const T& front() const noexcept { return ptr()[0]; }
  operator std::span<const T>() const noexcept { return {ptr(), size_}; }  // NOLINT
  std::span<const T> span() const noexcept { return {ptr(), size_}; }

  void reserve(size_t n) {
    if (n <= cap_) return;
    T* fresh = static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(alignof(T))));
    for (size_t i = 0; i < size_; ++i) {
      new (fresh + i) T(std::move(ptr()[i]));
      ptr()[i].~T();
    }
    if (heap_) ::operator delete(heap_, std::align_val_t(alignof(T)));
    heap_ = fresh;
    cap_ = n;
  }
  void push_back(const T& v) { emplace_back(v); }
  void push_back(T&& v) { emplace_back(std::move(v)); }
  template <typename... A>
  T& emplace_back(A&&... a) {
    if (size_ == cap_) reserve(cap_ * 2);
    T* p = new (ptr() + size_) T(std::forward<A>(a)...);
    ++size_;
    return *p;
  }
  void pop_back() noexcept { ptr()[--size_].~T(); }
  void resize(size_t n, const T& v = T()) {
    if (n < size_) {
      for (size_t i = n; i < size_; ++i) ptr()[i].~T();
      size_ = n;
      return;
    }
    reserve(n);
    for (size_t i = size_; i < n; ++i) new (ptr() + i) T(v);
    size_ = n;
  }
  void assign(size_t n, const T& v) { clear(); resize(n, v); }
  void clear() noexcept {
    for (size_t i = 0; i < size_; ++i) ptr()[i].~T();
    size_ = 0;
  }
  template <typename It>
  void append(It first, It last) {
    reserve(size_ + static_cast<size_t>(std::distance(first, last)));
    for (; first != last; ++first) new (ptr() + size_++) T(*first);
  }
  T* insert(T* pos, const T& v) {
    size_t at = static_cast<size_t>(pos - begin());
    emplace_back(v);
    std::rotate(begin() + at, end() - 1, end());
    return begin() + at;
  }
  T* erase(T* pos) {
    std::move(pos + 1, end(), pos);
    pop_back();
    return pos;
  }

  friend bool operator==(const SmallVec& a, const SmallVec& b) {
    if (a.size_ != b.size_) return false;
    for (uint32_t i = 0; i < a.size_; ++i)  // a plain loop: shapes are short, a memcmp call costs more
      if (!(a[i] == b[i])) return false;
    return true;
  }

 private:
  T* ptr() noexcept { return heap_ ? heap_ : reinterpret_cast<T*>(inline_); }
  const T* ptr() const noexcept { return heap_ ? heap_ : reinterpret_cast<const T*>(inline_); }
  void destroy() noexcept {
    clear();
    if (heap_) ::operator delete(heap_, std::align_val_t(alignof(T)));
    heap_ = nullptr;
    cap_ = N;
  }
  void take(SmallVec&& o) noexcept {
    if (o.heap_) {
      heap_ = o.heap_;
      cap_ = o.cap_;
      size_ = o.size_;
      o.heap_ = nullptr;
      o.cap_ = N;
      o.size_ = 0;
      return;
    }
    for (size_t i = 0; i < o.size_; ++i) new (ptr() + i) T(std::move(o.ptr()[i]));
    size_ = o.size_;
    o.clear();
  }

  alignas(T) unsigned char inline_[N * sizeof(T)];
  T* heap_ = nullptr;
  uint32_t size_ = 0;
  uint32_t cap_ = N;
};

}  // namespace ds
