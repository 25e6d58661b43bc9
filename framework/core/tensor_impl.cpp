#include "tensor_impl.h"

#include "detail/object_cache.h"

namespace ds {

using ImplCache = detail::ObjectCache<sizeof(TensorImpl)>;
void* TensorImpl::operator new(size_t n) { return n == sizeof(TensorImpl) ? ImplCache::allocate() : ::operator new(n); }
void TensorImpl::operator delete(void* p) noexcept { ImplCache::deallocate(p); }

TensorImpl::TensorImpl(Contiguous, IntrusivePtr<Storage> storage, DType dtype, IntArrayRef sizes, Shape strides,
                       int64_t numel)
    : storage_(std::move(storage)), sizes_(sizes.begin(), sizes.end()), strides_(std::move(strides)), offset_(0),
      numel_(numel), dtype_(dtype), contiguous_(true) {}

TensorImpl::TensorImpl(IntrusivePtr<Storage> storage, DType dtype, Shape sizes, Shape strides, int64_t offset)
    : storage_(std::move(storage)), sizes_(std::move(sizes)), strides_(std::move(strides)), offset_(offset),
      numel_(numel_of(sizes_)), dtype_(dtype), contiguous_(is_contiguous_layout(sizes_, strides_)) {}

void TensorImpl::set_geometry(Shape sizes, Shape strides, int64_t offset) {
  sizes_ = std::move(sizes);
  strides_ = std::move(strides);
  offset_ = offset;
  numel_ = numel_of(sizes_);
  contiguous_ = is_contiguous_layout(sizes_, strides_);
}

}  // namespace ds
