#pragma once
// TensorBase: the handle to a TensorImpl with everything that needs no op: metadata, raw data access, item() and
// printing. ds::Tensor (ops/tensor.h) adds the op methods on top of it.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <type_traits>

#include "error.h"
#include "tensor_impl.h"

namespace ds {

class TensorBase {
 public:
  TensorBase() = default;
  explicit TensorBase(IntrusivePtr<TensorImpl> impl) noexcept : impl_(std::move(impl)) {}

  bool defined() const noexcept { return static_cast<bool>(impl_); }
  TensorImpl* impl() const noexcept { return impl_.get(); }
  const IntrusivePtr<TensorImpl>& impl_ptr() const noexcept { return impl_; }
  bool is_same(const TensorBase& o) const noexcept { return impl_ == o.impl_; }
  void reset() noexcept { impl_.reset(); }

  DType dtype() const { return checked()->dtype(); }
  Device device() const { return checked()->device(); }
  const Shape& sizes() const { return checked()->sizes(); }
  const Shape& shape() const { return checked()->sizes(); }
  const Shape& strides() const { return checked()->strides(); }
  int64_t dim() const { return checked()->dim(); }
  int64_t ndim() const { return dim(); }
  // size(-1) is the last dimension.
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t numel() const { return checked()->numel(); }
  int64_t storage_offset() const { return checked()->storage_offset(); }
  bool is_contiguous() const { return checked()->is_contiguous(); }
  size_t element_size() const { return itemsize(dtype()); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(); }
  bool is_cpu() const { return device().is_cpu(); }
  bool is_cuda() const { return device().is_cuda(); }
  bool is_floating_point() const { return is_floating(dtype()); }

  // Pointer to the first element. data_ptr<T>() checks that T is the tensor's dtype.
  void* data() const { return checked()->data(); }
  template <typename T> T* data_ptr() const {
    check_dtype(dtype_v<T>);
    return static_cast<T*>(data());
  }

  // The value of a one-element tensor, converted to T. Waits for the device when the tensor lives on one.
  template <typename T> T item() const;
  double item_double() const;
  int64_t item_int64() const;  // exact for every integer dtype

  // Autograd state.
  bool requires_grad() const { return checked()->requires_grad(); }
  // A leaf has no grad_fn: a user-created tensor, or any tensor made while grad mode was off.
  bool is_leaf() const;
  uint32_t version() const { return checked()->storage()->version(); }

  // PyTorch-like text: "tensor([[1.0000, 2.0000]], requires_grad=True)".
  std::string str() const;

 protected:
  TensorImpl* checked() const {
    if (!impl_) throw_undefined();
    return impl_.get();
  }
  [[noreturn]] static void throw_undefined();
  void check_dtype(DType t) const;

  IntrusivePtr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const TensorBase& t);

// Reads element i (in row-major logical order) of a CPU tensor as double; for tests and printing, not hot loops.
double read_element(const TensorBase& t, int64_t linear_index);

// Makes a fresh contiguous tensor on a device (uninitialised memory from the device's pooled allocator).
TensorBase empty_base(IntArrayRef shape, DType dtype, Device device);

// Hook for copying bytes to, from or within a device, installed by device backends (the CUDA backend) so that
// item(), printing and to(device) work everywhere. The hook of the non-CPU side is used; it returns once the bytes
// are in place (host memory may be reused at once), so copies into host memory are synchronous.
using DeviceCopy = void (*)(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);
void register_device_copy(DeviceType type, DeviceCopy fn);
// Copies nbytes between any two devices; throws when a device's backend is not built.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);
inline void copy_bytes_to_host(void* dst, const void* src, size_t nbytes, Device from) {
  copy_bytes(dst, Device(), src, from, nbytes);
}

// Host code reading a tensor's values (item(), tolist(), printing) reports it here first. The graph tracer
// (framework/graph) installs the hook: what the host does with such a value is not in the graph, so the read is a
// graph break. Code whose read only decides whether to throw (a range check the kernels repeat) opens a
// HostReadIsCheck scope, and the read is reported as a check (`check`: not a break, but the value must exist).
using HostReadHook = void (*)(const TensorBase& t, const char* what, bool check);
void set_host_read_hook(HostReadHook hook);
void report_host_read(const TensorBase& t, const char* what);

class HostReadIsCheck {
 public:
  HostReadIsCheck();
  ~HostReadIsCheck();
  HostReadIsCheck(const HostReadIsCheck&) = delete;
  HostReadIsCheck& operator=(const HostReadIsCheck&) = delete;
};

template <typename T> T TensorBase::item() const {
  if constexpr (std::is_same_v<T, bool>) return item_double() != 0.0;
  else if constexpr (std::is_integral_v<T>) return static_cast<T>(item_int64());
  else return static_cast<T>(item_double());
}

}  // namespace ds
