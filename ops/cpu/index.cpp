// CPU kernels of the shape-and-index primitives. Index tensors arrive as int64 (the rules cast them) and are
// bounds-checked before any element moves.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <ds/core/detail/check.h>

#include "helpers.h"
#include "kernels.h"
#include "loops.h"
#include "parallel.h"

namespace ds::cpu {
namespace {

void run_copy(const Tensor& src, const Tensor& dst) {
  const Tensor in[1] = {src};
  Tensor outs[1] = {dst};
  const Attrs a = CopyAttrs{.dtype = dst.dtype()};
  copy(KernelCtx{OpId::copy, "copy", in, outs, a});
}

// Offset (in elements) of the element with multi-index `idx` in a tensor with `strides`.
inline int64_t offset_of(const int64_t* idx, const Shape& strides) {
  int64_t o = 0;
  for (size_t d = 0; d < strides.size(); ++d) o += idx[d] * strides[d];
  return o;
}

// The common case of gather and scatter, seen as [outer, n, inner] (`data`) and [outer, m, inner] (index, src):
// all three contiguous, index and src of one shape, equal to data's except along dim. Element t of index then
// addresses data[(o * n + index[t]) * inner + q] with t = (o * m + j) * inner + q, with no per-element index maths.
struct Dense3 {
  int64_t outer = 1, n = 1, m = 1, inner = 1;
};
bool dense3(const Tensor& data, const Tensor& index, const Tensor& src, int64_t d, Dense3& g) {
  if (data.dim() == 0 || !data.is_contiguous() || !index.is_contiguous() || !src.is_contiguous()) return false;
  if (index.dim() != data.dim() || src.sizes() != index.sizes()) return false;
  for (int64_t i = 0; i < data.dim(); ++i) {
    if (i != d && data.size(i) != index.size(i)) return false;
    if (i < d) g.outer *= data.size(i);
    if (i > d) g.inner *= data.size(i);
  }
  g.n = data.size(d);
  g.m = index.size(d);
  return true;
}

// Calls f(multi_index) for every position of `sizes` in row-major order (serial).
template <typename F>
void for_each_index(const Shape& sizes, F&& f) {
  const int64_t n = numel_of(sizes);
  Shape idx(sizes.size(), 0);
  for (int64_t t = 0; t < n; ++t) {
    f(idx.data());
    for (size_t d = sizes.size(); d-- > 0;) {
      if (++idx[d] < sizes[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

// inputs: tensors of one dtype -> out: concatenated along dim; x -> out flipped along dims
void cat(const KernelCtx& c) { detail::cat_by_copies(c, run_copy); }
void flip(const KernelCtx& c) { detail::flip_by_copy(c, run_copy); }

// x -> out (padded): each output element reads its source element (reflected), or the constant.
void pad(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  const Tensor& out = c.out[0];
  const auto& a = c.attrs.get<PadAttrs>();
  const Shape& pads = a.pads;
  const bool reflect = a.mode == PadMode::Reflect;
  const int64_t nd = x.dim();
  Shape before(static_cast<size_t>(nd), 0);
  for (size_t i = 0; i < pads.size() / 2; ++i) before[nd - 1 - static_cast<int64_t>(i)] = pads[2 * i];
  visit_all(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    const S value = static_cast<S>(static_cast<compute_t<S>>(a.value));
    const S* src = static_cast<const S*>(x.data());
    S* dst = static_cast<S*>(out.data());
    const Shape& osz = out.sizes();
    if (!reflect && nd >= 1) {
      // Constant padding row by row (the backward of every slice): the row's input offset is found once, then the
      // front padding, the copied run and the back padding are plain loops.
      const int64_t W = osz[nd - 1], n = x.sizes()[nd - 1], lead = before[nd - 1], xs = x.strides()[nd - 1];
      const int64_t rows = W ? out.numel() / W : 0;
      parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(W, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
          S* row = dst + r * W;
          int64_t rem = r, off = 0;
          bool inside = true;
          for (int64_t d = nd - 2; d >= 0 && inside; --d) {
            const int64_t i = rem % osz[d] - before[d];
            rem /= osz[d];
            inside = i >= 0 && i < x.sizes()[d];
            off += i * x.strides()[d];
          }
          if (!inside) {
            std::fill(row, row + W, value);
            continue;
          }
          const int64_t a = std::clamp<int64_t>(lead, 0, W), e = std::clamp<int64_t>(lead + n, 0, W);
          std::fill(row, row + a, value);
          for (int64_t j = a; j < e; ++j) row[j] = src[off + (j - lead) * xs];
          std::fill(row + e, row + W, value);
        }
      });
      return;
    }
    parallel_for(out.numel(), 8192, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        int64_t rem = t, off = 0;
        bool inside = true;
        for (int64_t d = nd - 1; d >= 0; --d) {
          int64_t i = rem % osz[d] - before[d];
          rem /= osz[d];
          const int64_t n = x.sizes()[d];
          if (reflect) {
            if (i < 0) i = -i;
            if (i >= n) i = 2 * (n - 1) - i;
          } else if (i < 0 || i >= n) {
            inside = false;
            break;
          }
          off += i * x.strides()[d];
        }
        dst[t] = inside ? src[off] : value;
      }
    });
  });
}

// x, index -> out (index's shape): out[p] = x[p with p[dim] = index[p]]
void gather(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  const Tensor index = contiguous_copy(c.in[1]);
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name);
  check_index_range(index, x.dim() ? x.sizes()[d] : 1, c.name, d);
  const int64_t* ip = index.data_ptr<int64_t>();
  const Tensor& out = c.out[0];
  Dense3 g;
  if (dense3(x, index, index, d, g)) {
    visit_all(x.dtype(), [&](auto tag) {
      using S = decltype(tag);
      const S* src = static_cast<const S*>(x.data());
      S* dst = static_cast<S*>(out.data());
      parallel_for(g.outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(g.m * g.inner, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t o = lo; o < hi; ++o)
          for (int64_t j = 0; j < g.m; ++j)
            for (int64_t q = 0, t = (o * g.m + j) * g.inner; q < g.inner; ++q, ++t)
              dst[t] = src[(o * g.n + ip[t]) * g.inner + q];
      });
    });
    return;
  }
  visit_all(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    const S* src = static_cast<const S*>(x.data());
    S* dst = static_cast<S*>(out.data());
    int64_t t = 0;
    for_each_index(index.sizes(), [&](const int64_t* pos) {
      Shape p(pos, pos + index.dim());
      if (x.dim()) p[d] = ip[t];
      dst[t++] = src[offset_of(p.data(), x.strides())];
    });
  });
}

namespace {
template <bool Add>
void scatter_impl(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  const Tensor index = contiguous_copy(c.in[1]);
  const Tensor& src = c.in[2];
  const Tensor& out = c.out[0];
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name);
  check_index_range(index, x.dim() ? x.sizes()[d] : 1, c.name, d);
  run_copy(x, out);
  const int64_t* ip = index.data_ptr<int64_t>();
  Dense3 g;
  if (dense3(out, index, src, d, g)) {
    // Each outer slice is written by one thread only, in index order: the sums do not depend on the thread count.
    visit_all(x.dtype(), [&](auto tag) {
      using S = decltype(tag);
      const S* sp = static_cast<const S*>(src.data());
      S* op = static_cast<S*>(out.data());
      parallel_for(g.outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(g.m * g.inner, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t o = lo; o < hi; ++o)
          for (int64_t j = 0; j < g.m; ++j)
            for (int64_t q = 0, t = (o * g.m + j) * g.inner; q < g.inner; ++q, ++t) {
              S& dst = op[(o * g.n + ip[t]) * g.inner + q];
              if constexpr (!Add) dst = sp[t];
              else if constexpr (std::is_same_v<S, bool>) dst = dst || sp[t];
              else dst = static_cast<S>(static_cast<compute_t<S>>(dst) + static_cast<compute_t<S>>(sp[t]));
            }
      });
    });
    return;
  }
  visit_all(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    const S* sp = static_cast<const S*>(src.data());
    S* op = static_cast<S*>(out.data());
    int64_t t = 0;
    for_each_index(index.sizes(), [&](const int64_t* pos) {
      const S v = sp[offset_of(pos, src.strides())];
      Shape p(pos, pos + index.dim());
      if (x.dim()) p[d] = ip[t];
      ++t;
      S& dst = op[offset_of(p.data(), out.strides())];
      if constexpr (Add) {
        if constexpr (std::is_same_v<S, bool>) dst = dst || v;
        else dst = static_cast<S>(static_cast<compute_t<S>>(dst) + static_cast<compute_t<S>>(v));
      } else {
        dst = v;
      }
    });
  });
}
}  // namespace

void scatter(const KernelCtx& c) { scatter_impl<false>(c); }
void scatter_add(const KernelCtx& c) { scatter_impl<true>(c); }

// x [outer, n, inner], index (m) -> out [outer, m, inner]: whole rows of `inner` elements are copied.
void index_select(const KernelCtx& c) {
  const Tensor x = contiguous_copy(c.in[0]);
  const Tensor index = contiguous_copy(c.in[1]);
  const int64_t d = x.dim() ? wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name) : 0;
  const auto [outer, n, inner] = split_at(x, d);
  check_index_range(index, n, c.name, d);
  const int64_t m = index.numel();
  const int64_t* ip = index.data_ptr<int64_t>();
  const size_t row = static_cast<size_t>(inner) * x.element_size();
  const char* src = static_cast<const char*>(x.data());
  char* dst = static_cast<char*>(c.out[0].data());
  parallel_for(outer * m, std::max<int64_t>(1, 65536 / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / m, j = t % m;
      std::memcpy(dst + static_cast<size_t>(t) * row, src + static_cast<size_t>(o * n + ip[j]) * row, row);
    }
  });
}

// x [outer, n, inner], index (m), src [outer, m, inner] -> out = x with src rows added (times alpha) at index.
// Rows that share an index are added in order, so the result is deterministic.
void index_add(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  const Tensor index = contiguous_copy(c.in[1]);
  const Tensor src = contiguous_copy(c.in[2]);
  const auto& a = c.attrs.get<IndexAddAttrs>();
  const Tensor& out = c.out[0];
  const int64_t d = x.dim() ? wrap_dim(a.dim, x.dim(), c.name) : 0;
  const auto [outer, n, inner] = split_at(x, d);
  check_index_range(index, n, c.name, d);
  run_copy(x, out);
  const int64_t m = index.numel();
  const int64_t* ip = index.data_ptr<int64_t>();
  const double alpha = a.alpha;
  visit_number(x.dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    const S* sp = static_cast<const S*>(src.data());
    S* op = static_cast<S*>(out.data());
    const C a = static_cast<C>(alpha);
    const int64_t chunks = (inner + kChunk - 1) / kChunk;
    parallel_for(outer * chunks, std::max<int64_t>(1, kGrain / std::max<int64_t>(m * kChunk, 1)), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / chunks, i0 = (t % chunks) * kChunk, len = std::min(kChunk, inner - i0);
        for (int64_t j = 0; j < m; ++j) {
          const S* s = sp + (o * m + j) * inner + i0;
          S* dd = op + (o * n + ip[j]) * inner + i0;
          for (int64_t i = 0; i < len; ++i)
            dd[i] = static_cast<S>(static_cast<C>(dd[i]) + a * static_cast<C>(s[i]));
        }
      }
    });
  });
}

namespace {
// Sorts each [outer, :, inner] line of x, keeping the first k. NaN orders as the largest value (as in PyTorch).
void sort_lines(const KernelCtx& c, int64_t dim_attr, int64_t k, bool descending, bool stable) {
  const Tensor& x = c.in[0];
  const int64_t nd = x.dim();
  const int64_t d = nd ? wrap_dim(dim_attr, nd, c.name) : 0;
  const Tensor xs = contiguous_copy(x);
  const auto [outer, n, inner] = split_at(x, d);
  visit_number(x.dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    const S* sp = static_cast<const S*>(xs.data());
    S* vals = static_cast<S*>(c.out[0].data());
    int64_t* idx = static_cast<int64_t*>(c.out[1].data());
    parallel_for(outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      std::vector<int64_t> order(static_cast<size_t>(n));
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / inner, i = t % inner;
        const S* line = sp + o * n * inner + i;
        auto val = [&](int64_t j) { return static_cast<C>(line[j * inner]); };
        auto less = [&](int64_t a, int64_t bb) {
          const C va = val(a), vb = val(bb);
          if constexpr (std::is_floating_point_v<C>) {
            if (std::isnan(va)) return false;
            if (std::isnan(vb)) return true;
          }
          return va < vb;
        };
        auto cmp = [&](int64_t a, int64_t bb) { return descending ? less(bb, a) : less(a, bb); };
        std::iota(order.begin(), order.end(), 0);
        if (stable) std::stable_sort(order.begin(), order.end(), cmp);
        else std::partial_sort(order.begin(), order.begin() + k, order.end(),
                               [&](int64_t a, int64_t bb) { return cmp(a, bb) || (!cmp(bb, a) && a < bb); });
        for (int64_t j = 0; j < k; ++j) {
          vals[(o * k + j) * inner + i] = line[order[static_cast<size_t>(j)] * inner];
          idx[(o * k + j) * inner + i] = order[static_cast<size_t>(j)];
        }
      }
    });
  });
}
}  // namespace

void topk(const KernelCtx& c) {
  const auto& a = c.attrs.get<TopkAttrs>();
  sort_lines(c, a.dim, a.k, a.largest, false);
}
void sort(const KernelCtx& c) {
  const auto& a = c.attrs.get<SortAttrs>();
  const Tensor& x = c.in[0];
  const int64_t n = x.dim() ? x.sizes()[wrap_dim(a.dim, x.dim(), c.name)] : 1;
  sort_lines(c, a.dim, n, a.descending, true);
}

}  // namespace ds::cpu
