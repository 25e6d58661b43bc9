// CUDA kernels of the shape-and-index primitives (cat, flip, pad, gather, scatter, scatter_add, index_select,
// index_add, topk, sort), with the CPU kernels' semantics (ops/cpu/index.cpp). cat and flip are copies through
// views. The index ops run one thread per element over a geometry of three operands, in which the indexed operand
// is viewed with stride 0 along dim; the index read at that element, times the operand's stride along dim, is
// added to its offset. Indices out of range are recorded and reported at the next synchronisation (index_error.h).
// scatter_add and index_add add with atomics: the order of the sums of elements that share an index is not fixed
// (as in PyTorch on CUDA), so float results may differ between runs in the last bits.
#include <algorithm>
#include <vector>

#include "../detail/views.h"
#include "index_check.cuh"
#include "kernels.h"
#include "loops.cuh"

namespace ds::cuda {
namespace {

constexpr int kThreads = 256;

// *p += v for every storage type: the native atomics where CUDA has them, a compare-and-swap on the enclosing
// 32-bit word for the 1-byte types; bool adds as logical or.
template <typename S>
__device__ __forceinline__ void atomic_add(S* p, compute_t<S> v) {
  if constexpr (std::is_same_v<S, float> || std::is_same_v<S, double> || is_half_v<S>) {
    atomicAdd(p, cvt<S>(v));
  } else if constexpr (std::is_same_v<S, int32_t>) {
    atomicAdd(reinterpret_cast<int*>(p), v);
  } else if constexpr (std::is_same_v<S, int64_t>) {
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
  } else {
    static_assert(sizeof(S) == 1);
    auto* word = reinterpret_cast<unsigned int*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t{3});
    const unsigned shift = static_cast<unsigned>(reinterpret_cast<uintptr_t>(p) & 3u) * 8u;
    unsigned old = *word, assumed;
    do {
      assumed = old;
      S cur;
      const auto byte = static_cast<unsigned char>((assumed >> shift) & 0xffu);
      memcpy(&cur, &byte, 1);
      S next;
      if constexpr (std::is_same_v<S, bool>) next = cur || v;
      else next = static_cast<S>(cur + v);
      unsigned char nb;
      memcpy(&nb, &next, 1);
      old = atomicCAS(word, assumed, (assumed & ~(0xffu << shift)) | (static_cast<unsigned>(nb) << shift));
    } while (old != assumed);
  }
}

struct IndexArgs {
  int64_t n;            // elements of the geometry
  int64_t dim_stride;   // the indexed operand's stride along dim
  int64_t dim_size;     // its size along dim: indices must be in [0, dim_size)
  int64_t dim;
  OpId op;
  IndexErrorRecord* rec;
};

// Operands of the geometry: 0 the plain side (out for gathers, src for scatters), 1 the indexed side, 2 the index.
// gather: plain[o0] = indexed[o1 + idx * dim_stride]
template <typename S>
__global__ void gather_kernel(S* plain, const S* indexed, const int64_t* index, OffsetCalc<3, int64_t> oc,
                              IndexArgs a) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.n) return;
  int64_t off[3];
  oc.get(i, off);
  const int64_t j = index[off[2]];
  if (!index_in_range(a.rec, a.op, a.dim, j, a.dim_size)) return;
  plain[off[0]] = indexed[off[1] + j * a.dim_stride];
}

// scatter: indexed[o1 + idx * dim_stride] = plain[o0] (Add: += alpha * plain[o0])
template <typename S, bool Add>
__global__ void scatter_kernel(const S* plain, S* indexed, const int64_t* index, OffsetCalc<3, int64_t> oc,
                               IndexArgs a, compute_t<S> alpha) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.n) return;
  int64_t off[3];
  oc.get(i, off);
  const int64_t j = index[off[2]];
  if (!index_in_range(a.rec, a.op, a.dim, j, a.dim_size)) return;
  S* dst = indexed + off[1] + j * a.dim_stride;
  if constexpr (Add) {
    if constexpr (std::is_same_v<S, bool>) atomic_add(dst, load(plain + off[0]));
    else atomic_add(dst, alpha * load(plain + off[0]));
  } else {
    *dst = plain[off[0]];
  }
}

// t viewed with `sizes`: its own strides but 0 along `dim` or, with only_dim (a 0-d or 1-d index), its one stride
// along `dim` and 0 elsewhere.
Tensor view_for(const Tensor& t, const Shape& sizes, int64_t dim, bool only_dim = false) {
  Shape strides(sizes.size(), 0);
  for (size_t k = 0; k < sizes.size(); ++k) {
    if (only_dim) strides[k] = static_cast<int64_t>(k) == dim && t.dim() == 1 ? t.stride(0) : 0;
    else if (static_cast<int64_t>(k) != dim) strides[k] = t.stride(static_cast<int64_t>(k));
  }
  return detail::strided_view(t, sizes, strides, t.storage_offset());
}

// Runs gather_kernel or scatter_kernel<Add> over `plain`'s shape with the three operands' views.
template <bool Gather, bool Add = false>
void index_op(const KernelCtx& c, const Tensor& plain, const Tensor& indexed_view, const Tensor& index_view,
              int64_t dim_stride, int64_t dim_size, int64_t dim, double alpha = 1) {
  const int64_t n = plain.numel();
  if (n == 0) return;
  const int dev = plain.device().index;
  DeviceGuard guard(dev);
  const std::array<const Tensor*, 3> ts{&plain, &indexed_view, &index_view};
  const OffsetCalc<3, int64_t> oc(make_geometry<3>(ts, 0, c.name));
  const IndexArgs a{n, dim_stride, dim_size, dim, c.op, index_error_record(dev)};
  const auto* idx = static_cast<const int64_t*>(index_view.data());
  visit_all(plain.dtype(), [&](auto tag) {
    using S = decltype(tag);
    if constexpr (Gather)
      launch(c.name, gather_kernel<S>, blocks_for(n, kThreads), kThreads, 0, current_stream(dev),
             static_cast<S*>(plain.data()), static_cast<const S*>(indexed_view.data()), idx, oc, a);
    else
      launch(c.name, scatter_kernel<S, Add>, blocks_for(n, kThreads), kThreads, 0, current_stream(dev),
             static_cast<const S*>(plain.data()), static_cast<S*>(indexed_view.data()), idx, oc, a,
             static_cast<compute_t<S>>(alpha));
  });
}

template <bool Add>
void scatter_impl(const KernelCtx& c) {
  const Tensor &x = c.in[0], &index = c.in[1], &src = c.in[2];
  const Tensor& out = c.out[0];
  copy_into(x, out);
  if (x.dim() == 0) {  // a 0-d x: index and src are 0-d too, and the index must be 0
    index_op<false, Add>(c, src, out, index, 0, 1, 0);
    return;
  }
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name);
  const Tensor src_view = detail::strided_view(src, index.sizes(), src.strides(), src.storage_offset());
  index_op<false, Add>(c, src_view, view_for(out, index.sizes(), d), index, out.stride(d), out.size(d), d);
}

// pad: out[p] = x[p - before] (reflected at the edges), or the constant outside x.
struct PadGeom {
  int nd = 0;
  bool reflect = false;
  int64_t out_sizes[kMaxDims], in_sizes[kMaxDims], in_strides[kMaxDims], before[kMaxDims];
};

template <typename S>
__global__ void pad_kernel(const S* in, S* out, int64_t n, PadGeom g, S value) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n) return;
  int64_t rem = t, off = 0;
  for (int d = g.nd - 1; d >= 0; --d) {
    int64_t i = rem % g.out_sizes[d] - g.before[d];
    rem /= g.out_sizes[d];
    const int64_t size = g.in_sizes[d];
    if (g.reflect) {
      if (i < 0) i = -i;
      if (i >= size) i = 2 * (size - 1) - i;
    } else if (i < 0 || i >= size) {
      out[t] = value;
      return;
    }
    off += i * g.in_strides[d];
  }
  out[t] = in[off];
}

// Sorting: each line (every index but dim) is padded to a power of two P and sorted by a bitonic network in global
// memory, one launch per step over all lines. Keys compare by value (NaN largest, as on the CPU), then by index,
// so that equal values keep their order: the result is the CPU's stable sort. Padding sorts after everything.
template <typename K>
struct SortKey {
  K v;
  int64_t i;
};

template <typename K>
__device__ __forceinline__ bool sorts_before(const SortKey<K>& a, const SortKey<K>& b, int64_t n, bool descending) {
  if (a.i >= n) return false;
  if (b.i >= n) return true;
  if constexpr (std::is_floating_point_v<K>) {
    const bool an = a.v != a.v, bn = b.v != b.v;
    if (an != bn) return descending ? an : bn;  // NaN is the largest value
    if (an && bn) return a.i < b.i;
  }
  if (a.v != b.v) return descending ? a.v > b.v : a.v < b.v;
  return a.i < b.i;
}

// keys: (lines, P); line l, element r reads x[(o * n + r) * inner + q] with l = o * inner + q (x contiguous).
template <typename S>
__global__ void sort_load_kernel(const S* x, SortKey<compute_t<S>>* keys, int64_t lines, int64_t n, int64_t inner,
                                 int64_t P) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= lines * P) return;
  const int64_t l = t / P, r = t % P, o = l / inner, q = l % inner;
  keys[t] = SortKey<compute_t<S>>{r < n ? load(x + (o * n + r) * inner + q) : compute_t<S>(0), r};
}

template <typename K>
__global__ void bitonic_step_kernel(SortKey<K>* keys, int64_t lines, int64_t P, int64_t k, int64_t j, int64_t n,
                                    bool descending) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t half = P / 2;
  if (t >= lines * half) return;
  const int64_t l = t / half, p = t % half;
  const int64_t i = 2 * j * (p / j) + p % j, partner = i + j;
  SortKey<K>* line = keys + l * P;
  const SortKey<K> a = line[i], b = line[partner];
  // Ascending blocks (in the network's order) where bit k of i is clear.
  const bool up = (i & k) == 0;
  if (up ? sorts_before(b, a, n, descending) : sorts_before(a, b, n, descending)) {
    line[i] = b;
    line[partner] = a;
  }
}

template <typename S>
__global__ void sort_store_kernel(const SortKey<compute_t<S>>* keys, S* vals, int64_t* idx, int64_t lines, int64_t P,
                                  int64_t kk, int64_t inner) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= lines * kk) return;
  const int64_t l = t / kk, j = t % kk, o = l / inner, q = l % inner;
  const SortKey<compute_t<S>> key = keys[l * P + j];
  vals[(o * kk + j) * inner + q] = cvt<S>(key.v);
  idx[(o * kk + j) * inner + q] = key.i;
}

void sort_lines(const KernelCtx& c, int64_t dim_attr, int64_t kk, bool descending) {
  const Tensor& x0 = c.in[0];
  const int64_t d = x0.dim() ? wrap_dim(dim_attr, x0.dim(), c.name) : 0;
  const auto [outer, n, inner] = detail::split_at(x0, d);
  const int64_t lines = outer * inner;
  if (lines == 0 || kk == 0) return;
  const Tensor x = contiguous_copy(x0);
  int64_t P = 1;
  while (P < n) P *= 2;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t stream = current_stream(dev);
  visit_number(x.dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    using K = compute_t<S>;
    const Tensor keys_t(empty_base({static_cast<int64_t>(lines * P * sizeof(SortKey<K>))}, kU8, x.device()));
    auto* keys = static_cast<SortKey<K>*>(keys_t.data());
    launch(c.name, sort_load_kernel<S>, blocks_for(lines * P, kThreads), kThreads, 0, stream,
           static_cast<const S*>(x.data()), keys, lines, n, inner, P);
    for (int64_t k = 2; k <= P; k *= 2)
      for (int64_t j = k / 2; j > 0; j /= 2)
        launch(c.name, bitonic_step_kernel<K>, blocks_for(lines * P / 2, kThreads), kThreads, 0, stream, keys, lines,
               P, k, j, n, descending);
    launch(c.name, sort_store_kernel<S>, blocks_for(lines * kk, kThreads), kThreads, 0, stream, keys,
           static_cast<S*>(c.out[0].data()), static_cast<int64_t*>(c.out[1].data()), lines, P, kk, inner);
  });
}

}  // namespace

// inputs: tensors of one dtype -> out: concatenated along dim; x -> out flipped along dims
void cat(const KernelCtx& c) { detail::cat_by_copies(c, copy_into); }
void flip(const KernelCtx& c) { detail::flip_by_copy(c, copy_into); }

void pad(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  const Tensor& out = c.out[0];
  const int64_t n = out.numel();
  if (n == 0) return;
  const auto& a = c.attrs.get<PadAttrs>();
  const Shape& pads = a.pads;
  PadGeom g;
  g.nd = static_cast<int>(x.dim());
  if (g.nd > kMaxDims) throw_error(c.name, "takes at most " + std::to_string(kMaxDims) + " dims on CUDA");
  g.reflect = a.mode == PadMode::Reflect;
  for (int d = 0; d < g.nd; ++d) {
    g.out_sizes[d] = out.size(d);
    g.in_sizes[d] = x.size(d);
    g.in_strides[d] = x.stride(d);
    g.before[d] = 0;
  }
  for (size_t i = 0; i < pads.size() / 2; ++i) g.before[g.nd - 1 - static_cast<int>(i)] = pads[2 * i];
  const int dev = out.device().index;
  DeviceGuard guard(dev);
  visit_all(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    const S value = cvt<S>(static_cast<compute_t<S>>(a.value));
    launch(c.name, pad_kernel<S>, blocks_for(n, kThreads), kThreads, 0, current_stream(dev),
           static_cast<const S*>(x.data()), static_cast<S*>(out.data()), n, g, value);
  });
}

// x, index -> out (index's shape): out[p] = x[p with p[dim] = index[p]]
void gather(const KernelCtx& c) {
  const Tensor &x = c.in[0], &index = c.in[1];
  const Tensor& out = c.out[0];
  if (x.dim() == 0) return index_op<true>(c, out, x, index, 0, 1, 0);
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name);
  index_op<true>(c, out, view_for(x, index.sizes(), d), index, x.stride(d), x.size(d), d);
}

void scatter(const KernelCtx& c) { scatter_impl<false>(c); }
void scatter_add(const KernelCtx& c) { scatter_impl<true>(c); }

// x, index (1-d) -> out: x with dim resized to index's length
void index_select(const KernelCtx& c) {
  const Tensor &x = c.in[0], &index = c.in[1];
  const Tensor& out = c.out[0];
  if (x.dim() == 0) return index_op<true>(c, out, x, view_for(index, {}, 0, true), 0, 1, 0);
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name);
  index_op<true>(c, out, view_for(x, out.sizes(), d), view_for(index, out.sizes(), d, true), x.stride(d), x.size(d),
                 d);
}

// x, index (1-d), src (x's shape with dim = index's length) -> out = x with alpha * src added at the index rows
void index_add(const KernelCtx& c) {
  const Tensor &x = c.in[0], &index = c.in[1], &src = c.in[2];
  const Tensor& out = c.out[0];
  const auto& a = c.attrs.get<IndexAddAttrs>();
  if (x.dtype() == kBool) throw_no_dtype(c.name, kBool);
  copy_into(x, out);
  if (x.dim() == 0)
    return index_op<false, true>(c, src, out, view_for(index, {}, 0, true), 0, 1, 0, a.alpha);
  const int64_t d = wrap_dim(a.dim, x.dim(), c.name);
  index_op<false, true>(c, src, view_for(out, src.sizes(), d), view_for(index, src.sizes(), d, true), out.stride(d),
                        out.size(d), d, a.alpha);
}

// topk attrs: TopkAttrs (always sorted here, as on the CPU)
void topk(const KernelCtx& c) {
  const auto& a = c.attrs.get<TopkAttrs>();
  sort_lines(c, a.dim, a.k, a.largest);
}

// sort attrs: SortAttrs
void sort(const KernelCtx& c) {
  const auto& a = c.attrs.get<SortAttrs>();
  const Tensor& x = c.in[0];
  const int64_t n = x.dim() ? x.size(wrap_dim(a.dim, x.dim(), c.name)) : 1;
  sort_lines(c, a.dim, n, a.descending);
}

}  // namespace ds::cuda
