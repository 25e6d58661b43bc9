#pragma once
// Helpers shared by CPU kernels (internal). Kernels never call front functions: a nested op would be traced or
// recorded by autograd; they call each other's kernels directly.
#include <ds/ops/op_def.h>

#include "../detail/views.h"

namespace ds::cpu {

using detail::DimSplit;
using detail::permuted_view;
using detail::split_at;
using detail::strided_view;

// A contiguous copy of x in dtype dt (x itself when it already is one).
Tensor contiguous_copy(const Tensor& x, DType dt);
inline Tensor contiguous_copy(const Tensor& x) { return contiguous_copy(x, x.dtype()); }

// x viewed as [outer, n, inner] around the dims in `dims` (sorted), contiguous: when x is contiguous and the dims
// are consecutive this is free; otherwise x is permuted so the dims come last and copied.
struct ReduceGeom {
  Tensor src;
  int64_t outer = 1, n = 1, inner = 1;
};
ReduceGeom reduce_geometry(const Tensor& x, IntArrayRef dims);


// Checks that every index of a contiguous int64 tensor is in [0, size).
void check_index_range(const Tensor& index, int64_t size, std::string_view op, int64_t dim);

}  // namespace ds::cpu
