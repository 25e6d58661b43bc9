#pragma once
// TensorImpl: a strided view of a Storage (offset, sizes and strides in elements) with a dtype, and the autograd
// fields. Shared by intrusive reference counting; a Tensor is a handle to one.
#include <memory>

#include "autograd_meta.h"
#include "dtype.h"
#include "shape.h"
#include "storage.h"

namespace ds {

class TensorImpl : public RefCounted {
 public:
  TensorImpl(IntrusivePtr<Storage> storage, DType dtype, Shape sizes, Shape strides, int64_t offset);
  // A fresh contiguous tensor whose strides and numel the caller already computed (the allocation fast path).
  struct Contiguous {};
  TensorImpl(Contiguous, IntrusivePtr<Storage> storage, DType dtype, IntArrayRef sizes, Shape strides, int64_t numel);

  static void* operator new(size_t n);
  static void operator delete(void* p) noexcept;

  const IntrusivePtr<Storage>& storage() const noexcept { return storage_; }
  DType dtype() const noexcept { return dtype_; }
  Device device() const noexcept { return storage_->device(); }
  const Shape& sizes() const noexcept { return sizes_; }
  const Shape& strides() const noexcept { return strides_; }
  int64_t storage_offset() const noexcept { return offset_; }
  int64_t numel() const noexcept { return numel_; }
  int64_t dim() const noexcept { return static_cast<int64_t>(sizes_.size()); }
  bool is_contiguous() const noexcept { return contiguous_; }
  void* data() const noexcept {
    return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(itemsize(dtype_));
  }

  // Autograd state. requires_grad is cached here so the op layer's check costs one load.
  bool requires_grad() const noexcept { return requires_grad_; }
  void set_requires_grad(bool r) noexcept { requires_grad_ = r; }
  AutogradMeta* autograd() const noexcept { return autograd_.get(); }
  AutogradMeta& autograd_mut() {
    if (!autograd_) autograd_ = std::make_unique<AutogradMeta>();
    return *autograd_;
  }
  void clear_autograd() noexcept { autograd_.reset(); requires_grad_ = false; }

  // True for a tensor made by a view op: it aliases another tensor's memory.
  bool is_view() const noexcept { return is_view_; }
  void set_is_view(bool v) noexcept { is_view_ = v; }

  // A 0-d tensor made from a C++ number (add(x, 2.0)): it takes part in type promotion like a Python scalar.
  bool is_wrapped_number() const noexcept { return wrapped_number_; }
  void set_wrapped_number(bool w) noexcept { wrapped_number_ = w; }

  // Replaces the geometry in place (used by in-place resizes of fresh outputs only).
  void set_geometry(Shape sizes, Shape strides, int64_t offset);

 private:
  IntrusivePtr<Storage> storage_;
  Shape sizes_;
  Shape strides_;
  int64_t offset_;
  int64_t numel_;
  DType dtype_;
  bool contiguous_;
  bool requires_grad_ = false;
  bool is_view_ = false;
  bool wrapped_number_ = false;
  std::unique_ptr<AutogradMeta> autograd_;
};

}  // namespace ds
