#pragma once
// Views and index geometry shared by the CPU and CUDA kernels (internal). Kernels never call front functions (a
// nested op would be traced or recorded by autograd), so they make their views here, over the same storage.
#include <ds/ops/op_def.h>

namespace ds::detail {

// A view with the given sizes and strides over x's storage.
inline Tensor strided_view(const Tensor& x, IntArrayRef sizes, IntArrayRef strides, int64_t offset) {
  return Tensor(IntrusivePtr<TensorImpl>::make(x.impl()->storage(), x.dtype(), sizes.vec(), strides.vec(), offset));
}

// A view of x with permuted dims (no copy), for kernels that reorder dims before a contiguous copy.
inline Tensor permuted_view(const Tensor& x, IntArrayRef dims) {
  Shape sizes, strides;
  for (int64_t d : dims) {
    sizes.push_back(x.sizes()[d]);
    strides.push_back(x.strides()[d]);
  }
  return strided_view(x, sizes, strides, x.storage_offset());
}

// x's dims seen as [outer, n, inner] around dim d (n = x.sizes()[d]; a 0-d x is [1, 1, 1]).
struct DimSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
inline DimSplit split_at(const Tensor& x, int64_t d) {
  DimSplit s;
  for (int64_t k = 0; k < x.dim(); ++k) {
    if (k < d) s.outer *= x.sizes()[k];
    else if (k == d) s.n = x.sizes()[k];
    else s.inner *= x.sizes()[k];
  }
  return s;
}

// cat as copies into views: copy(t, view of out where t goes) for each input (1-d empty inputs skipped, as
// torch.cat does). DimAttrs: dim. The CPU and CUDA kernels differ only in their copy.
template <typename Copy>
void cat_by_copies(const KernelCtx& c, Copy&& copy) {
  const Tensor& out = c.out[0];
  if (out.numel() == 0) return;
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, out.dim(), c.name);
  int64_t off = 0;
  for (const Tensor& t : c.in) {
    if (t.dim() == 1 && t.numel() == 0) continue;
    Shape sizes = out.sizes();
    sizes[d] = t.sizes()[d];
    copy(t, strided_view(out, sizes, out.strides(), out.storage_offset() + off * out.strides()[d]));
    off += t.sizes()[d];
  }
}

// flip as a copy from a view with negative strides along the flipped dims (DimsAttrs); nothing when one of them
// is empty.
template <typename Copy>
void flip_by_copy(const KernelCtx& c, Copy&& copy) {
  const Tensor& x = c.in[0];
  Shape strides = x.strides();
  int64_t offset = x.storage_offset();
  for (int64_t d : c.attrs.get<DimsAttrs>().dims) {
    if (x.sizes()[d] == 0) return;
    offset += (x.sizes()[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  copy(strided_view(x, x.sizes(), strides, offset), c.out[0]);
}

}  // namespace ds::detail
