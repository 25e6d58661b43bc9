#include "tensor_base.h"

#include <algorithm>
#include <cstring>

#include "detail/check.h"

namespace ds {

namespace {
DeviceCopy g_copy[kNumDeviceTypes] = {};

template <typename T>
double to_double(const void* p) {
  return static_cast<double>(*static_cast<const T*>(p));
}

double load_as_double(const void* p, DType t) {
  return visit_dtype(t, [&](auto tag) { return to_double<decltype(tag)>(p); });
}

int64_t load_as_int64(const void* p, DType t) {
  return visit_dtype(t, [&](auto tag) -> int64_t {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) return static_cast<int64_t>(*static_cast<const T*>(p));
    else return static_cast<int64_t>(static_cast<double>(*static_cast<const T*>(p)));
  });
}

HostReadHook g_host_read = nullptr;
thread_local int tls_check_reads = 0;

// Copies the one element of t to `out` (host memory of itemsize bytes).
void fetch_single(const TensorBase& t, const char* op, void* out) {
  DS_CHECK(!t.device().is_meta(), op, "a meta tensor (shape {}) has no value to read", shape_str(t.sizes()));
  report_host_read(t, "item()");
  DS_CHECK(t.numel() == 1, op, "a tensor with {} elements (shape {}) cannot be converted to a scalar", t.numel(),
           shape_str(t.sizes()));
  copy_bytes_to_host(out, t.data(), t.element_size(), t.device());
}
}  // namespace

void set_host_read_hook(HostReadHook hook) { g_host_read = hook; }

void report_host_read(const TensorBase& t, const char* what) {
  if (g_host_read) g_host_read(t, what, tls_check_reads > 0);
}

HostReadIsCheck::HostReadIsCheck() { ++tls_check_reads; }
HostReadIsCheck::~HostReadIsCheck() { --tls_check_reads; }

void TensorBase::throw_undefined() { throw_error("tensor", "the tensor is undefined (default-constructed or moved from)"); }

void TensorBase::check_dtype(DType t) const {
  DS_CHECK(dtype() == t, "data_ptr", "the tensor has dtype {}, not the requested {}", dtype_name(dtype()),
           dtype_name(t));
}

int64_t TensorBase::size(int64_t d) const { return sizes()[static_cast<size_t>(wrap_dim(d, dim(), "size"))]; }
int64_t TensorBase::stride(int64_t d) const { return strides()[static_cast<size_t>(wrap_dim(d, dim(), "stride"))]; }

bool TensorBase::is_leaf() const {
  const AutogradMeta* m = checked()->autograd();
  return !m || !m->grad_fn;
}

double TensorBase::item_double() const {
  alignas(8) unsigned char buf[8];
  fetch_single(*this, "item", buf);
  return load_as_double(buf, dtype());
}

int64_t TensorBase::item_int64() const {
  alignas(8) unsigned char buf[8];
  fetch_single(*this, "item", buf);
  return load_as_int64(buf, dtype());
}

double read_element(const TensorBase& t, int64_t linear_index) {
  DS_CHECK(t.is_cpu(), "read_element", "expects a CPU tensor, got one on {}", t.device().str());
  int64_t off = 0;
  int64_t rem = linear_index;
  const auto& sz = t.sizes();
  const auto& st = t.strides();
  for (size_t d = sz.size(); d-- > 0;) {
    off += (rem % sz[d]) * st[d];
    rem /= sz[d];
  }
  const char* base = static_cast<const char*>(t.data());
  return load_as_double(base + off * static_cast<int64_t>(t.element_size()), t.dtype());
}

TensorBase empty_base(IntArrayRef shape, DType dtype, Device device) {
  // One pass computes the strides, the element count and the validity of the shape.
  Shape strides(shape.size());
  int64_t n = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] < 0) [[unlikely]] DS_FAIL("empty", "negative dimension in shape {}", shape_str(shape));
    strides[i] = n;
    n *= std::max<int64_t>(shape[i], 1);
  }
  for (int64_t s : shape)
    if (s == 0) n = 0;
  auto storage = IntrusivePtr<Storage>::make(static_cast<size_t>(n) * itemsize(dtype), allocator_for(device));
  return TensorBase(IntrusivePtr<TensorImpl>::make(TensorImpl::Contiguous{}, std::move(storage), dtype, shape,
                                                   std::move(strides), n));
}

void register_device_copy(DeviceType type, DeviceCopy fn) { g_copy[static_cast<int>(type)] = fn; }

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    if (nbytes) std::memcpy(dst, src, nbytes);
    return;
  }
  const Device other = dst_device.is_cpu() ? src_device : dst_device;
  DeviceCopy fn = g_copy[static_cast<int>(other.type)];
  DS_CHECK(fn, "copy", "cannot copy from {} to {}: ds was built without the {} backend", src_device.str(),
           dst_device.str(), other.str());
  fn(dst, dst_device, src, src_device, nbytes);
}

}  // namespace ds
