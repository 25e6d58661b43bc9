#include "helpers.h"

#include <algorithm>

#include <ds/core/detail/check.h>

#include "kernels.h"

namespace ds::cpu {

Tensor contiguous_copy(const Tensor& x, DType dt) {
  if (x.is_contiguous() && x.dtype() == dt) return x;
  Tensor out(empty_base(x.sizes(), dt, x.device()));
  const Tensor in[1] = {x};
  Tensor outs[1] = {out};
  const Attrs a = CopyAttrs{dt};
  copy(KernelCtx{OpId::copy, "copy", in, outs, a});
  return out;
}

ReduceGeom reduce_geometry(const Tensor& x, IntArrayRef dims) {
  ReduceGeom g;
  const int64_t nd = x.dim();
  bool consecutive = true;
  for (size_t i = 1; i < dims.size(); ++i) consecutive &= dims[i] == dims[i - 1] + 1;
  if (dims.empty()) {
    g.src = contiguous_copy(x);
    g.n = 1;
    g.outer = x.numel();
    return g;
  }
  if (x.is_contiguous() && consecutive) {
    g.src = x;
    for (int64_t d = 0; d < nd; ++d) {
      const int64_t s = x.sizes()[d];
      if (d < dims.front()) g.outer *= s;
      else if (d <= dims.back()) g.n *= s;
      else g.inner *= s;
    }
    return g;
  }
  Shape order;
  for (int64_t d = 0; d < nd; ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) order.push_back(d);
  for (int64_t d : dims) order.push_back(d);
  g.src = contiguous_copy(permuted_view(x, order));
  for (int64_t d : dims) g.n *= x.sizes()[d];
  g.outer = g.n ? x.numel() / g.n : 0;
  if (g.n == 0) {
    g.outer = 1;
    for (size_t i = 0; i + dims.size() < order.size(); ++i) g.outer *= x.sizes()[order[i]];
  }
  return g;
}

void check_index_range(const Tensor& index, int64_t size, std::string_view op, int64_t dim) {
  const auto* p = index.data_ptr<int64_t>();
  const int64_t n = index.numel();
  for (int64_t i = 0; i < n; ++i)
    DS_CHECK(p[i] >= 0 && p[i] < size, op, "index {} is out of bounds for dimension {} with size {}", p[i], dim,
             size);
}

}  // namespace ds::cpu
