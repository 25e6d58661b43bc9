#include "tensor_impl.h"

namespace ds {

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
