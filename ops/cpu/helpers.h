#pragma once
// Helpers shared by CPU kernels (internal). Kernels never call front functions: a nested op would be traced or
// recorded by autograd; they call each other's kernels directly.
#include <ds/ops/op_def.h>

namespace ds::cpu {

// A contiguous copy of x in dtype dt (x itself when it already is one).
Tensor contiguous_copy(const Tensor& x, DType dt);
inline Tensor contiguous_copy(const Tensor& x) { return contiguous_copy(x, x.dtype()); }
// A view of x with permuted dims (no copy), for kernels that reorder dims before a contiguous copy.
Tensor permuted_view(const Tensor& x, IntArrayRef dims);
// A view with the given sizes and strides over x's storage.
Tensor strided_view(const Tensor& x, IntArrayRef sizes, IntArrayRef strides, int64_t offset);

// x viewed as [outer, n, inner] around the dims in `dims` (sorted), contiguous: when x is contiguous and the dims
// are consecutive this is free; otherwise x is permuted so the dims come last and copied.
struct ReduceGeom {
  Tensor src;
  int64_t outer = 1, n = 1, inner = 1;
};
ReduceGeom reduce_geometry(const Tensor& x, IntArrayRef dims);

// x's dims seen as [outer, n, inner] around dim d (n = x.sizes()[d]; a 0-d x is [1, 1, 1]).
struct DimSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
DimSplit split_at(const Tensor& x, int64_t d);

// Checks that every index of a contiguous int64 tensor is in [0, size).
void check_index_range(const Tensor& index, int64_t size, std::string_view op, int64_t dim);

}  // namespace ds::cpu
