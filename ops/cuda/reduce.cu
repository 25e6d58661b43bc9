// CUDA kernels of the reductions (sum, prod, amax, amin, max_dim, min_dim) and of cumsum. The input, of any
// strides, is read in place as out[o] = reduce over r of x[kept(o) + red(r)], where kept and red are offset
// calculators over the kept and the reduced dims. Two kernels share the work:
//   rows: the reduced elements are adjacent in memory (the innermost reduced stride is 1): a warp per output (and
//         split), lanes striding over r, combined with warp shuffles;
//   cols: otherwise (the kept dims are innermost, e.g. a sum over the batch): a thread per output, coalesced over
//         adjacent outputs, 8 threads of a block column dividing r, combined through shared memory.
// When outputs are too few to fill the GPU, r is split over blockIdx.y into partial results that a second pass
// combines in a fixed order: results are deterministic (no atomics) and depend only on the shapes.
// Accumulation is in float for the 16-bit floats and float32, double for float64, int64 for integers and bool.
#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "kernels.h"
#include "loops.cuh"

namespace ds::cuda {
namespace {

template <typename S> using acc_t = std::conditional_t<std::is_integral_v<S>, int64_t, compute_t<S>>;

template <typename T>
__device__ __forceinline__ T shuffle_xor(T v, int mask) {
  return __shfl_xor_sync(0xffffffffu, v, mask);
}

template <typename T>
__device__ __forceinline__ bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// A reducer: init(), step(acc, value, r) for one element at reduced index r, combine(a, b) with a from lower r,
// shuffle(acc, mask) across a warp, and store(out, o, acc).
template <typename S, typename O>
struct Sum {
  using A = acc_t<S>;
  __device__ A init() const { return A(0); }
  __device__ A step(A a, A v, int64_t) const { return a + v; }
  __device__ A combine(A a, A b) const { return a + b; }
  __device__ A shuffle(A a, int mask) const { return shuffle_xor(a, mask); }
  __device__ void store(O* out, int64_t*, int64_t o, A a) const { out[o] = cvt<O>(a); }
};
template <typename S, typename O>
struct Prod : Sum<S, O> {
  using A = acc_t<S>;
  __device__ A init() const { return A(1); }
  __device__ A step(A a, A v, int64_t) const { return a * v; }
  __device__ A combine(A a, A b) const { return a * b; }
};
// NaN wins, like torch.amax.
template <typename S, bool IsMax>
struct Extreme : Sum<S, S> {
  using A = acc_t<S>;
  __device__ A init() const {
    return IsMax ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max();
  }
  __device__ A combine(A a, A b) const {
    if (is_nan(a) || is_nan(b)) return is_nan(a) ? a : b;
    return IsMax ? (b > a ? b : a) : (b < a ? b : a);
  }
  __device__ A step(A a, A v, int64_t) const { return combine(a, v); }
};

// Value and first index of the extreme; the first NaN wins (torch.max).
template <typename C>
struct ValueIndex {
  C v;
  int64_t i;
};
template <typename S, bool IsMax>
struct ArgExtreme {
  using C = compute_t<S>;
  using A = ValueIndex<C>;
  // b comes from higher indices than a (or is a fresh element).
  __device__ A combine(A a, A b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    if (is_nan(a.v)) return a;
    if (is_nan(b.v)) return b;
    return (IsMax ? b.v > a.v : b.v < a.v) ? b : a;
  }
  __device__ A init() const { return A{C(0), -1}; }
  __device__ A step(A a, C v, int64_t r) const { return combine(a, A{v, r}); }
  // Lanes hold results for interleaved indices: order the pair by index before combining.
  __device__ A shuffle_combine(A a, int mask) const {
    A o{shuffle_xor(a.v, mask), shuffle_xor(a.i, mask)};
    if (o.i >= 0 && (a.i < 0 || o.i < a.i)) return combine(o, a);
    return combine(a, o);
  }
  __device__ void store(S* out, int64_t* idx, int64_t o, A a) const {
    out[o] = cvt<S>(a.v);
    idx[o] = a.i;
  }
};

// Combines a value from another lane into a: reducers whose combine is commutative shuffle and combine; the
// index-carrying ones order the pair.
template <typename R, typename A>
__device__ __forceinline__ A warp_combine(const R& red, A a, int mask) {
  if constexpr (requires { red.shuffle_combine(a, mask); }) return red.shuffle_combine(a, mask);
  else return red.combine(a, red.shuffle(a, mask));
}

template <typename Index>
struct ReducePlan {
  OffsetCalc<1, Index> kept, red;
  int64_t M = 1, R = 1;   // outputs, reduced elements per output
  int splits = 1;         // r is split into this many chunks of `chunk` elements
  int64_t chunk = 1;
};

template <typename R, typename S, typename Index>
__device__ __forceinline__ typename R::A reduce_range(const R& red, const S* in, const ReducePlan<Index>& p, Index base,
                                                      int64_t begin, int64_t end, int64_t step) {
  auto acc = red.init();
  for (int64_t r = begin; r < end; r += step) {
    Index off[1];
    p.red.get(static_cast<Index>(r), off);
    acc = red.step(acc, load(in + base + off[0]), r);
  }
  return acc;
}

constexpr int kWarpsPerBlock = 8;

// A warp per (output, split) item; lanes stride over r.
template <typename R, typename S, typename O, typename Index>
__global__ void __launch_bounds__(256) reduce_rows_kernel(R red, const S* in, O* out, int64_t* idx,
                                                          typename R::A* partial, ReducePlan<Index> p) {
  const int lane = threadIdx.x % 32;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (item >= p.M * p.splits) return;  // whole warps leave together
  const int64_t o = item % p.M, s = item / p.M;
  Index base[1];
  p.kept.get(static_cast<Index>(o), base);
  const int64_t begin = s * p.chunk, end = dmin(p.R, begin + p.chunk);
  auto acc = reduce_range(red, in, p, base[0], begin + lane, end, 32);
  for (int mask = 16; mask > 0; mask >>= 1) acc = warp_combine(red, acc, mask);
  if (lane != 0) return;
  if (p.splits == 1) red.store(out, idx, o, acc);
  else partial[s * p.M + o] = acc;
}

// threadIdx.x over 32 adjacent outputs, threadIdx.y over 8 parts of a split's r range.
template <typename R, typename S, typename O, typename Index>
__global__ void __launch_bounds__(256) reduce_cols_kernel(R red, const S* in, O* out, int64_t* idx,
                                                          typename R::A* partial, ReducePlan<Index> p) {
  using A = typename R::A;
  alignas(16) __shared__ unsigned char smem_raw[kWarpsPerBlock * 32 * sizeof(A)];
  A* smem = reinterpret_cast<A*>(smem_raw);
  const int64_t o = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  const int64_t s = blockIdx.y;
  const int64_t begin = s * p.chunk, end = dmin(p.R, begin + p.chunk);
  A acc = red.init();
  if (o < p.M) {
    Index base[1];
    p.kept.get(static_cast<Index>(o), base);
    // Thread row y takes a contiguous part of the range, so the parts combine in index order.
    const int64_t part = (end - begin + kWarpsPerBlock - 1) / kWarpsPerBlock;
    const int64_t b = begin + threadIdx.y * part;
    acc = reduce_range(red, in, p, base[0], b, dmin(end, b + part), 1);
  }
  smem[threadIdx.y * 32 + threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || o >= p.M) return;
  for (int y = 1; y < kWarpsPerBlock; ++y) acc = red.combine(acc, smem[y * 32 + threadIdx.x]);
  if (p.splits == 1) red.store(out, idx, o, acc);
  else partial[s * p.M + o] = acc;
}

// partial: (splits, M) -> out[o], combining the splits in order.
template <typename R, typename O>
__global__ void reduce_partials_kernel(R red, const typename R::A* partial, int splits, int64_t M, O* out,
                                       int64_t* idx) {
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= M) return;
  auto acc = partial[o];
  for (int s = 1; s < splits; ++s) acc = red.combine(acc, partial[s * M + o]);
  red.store(out, idx, o, acc);
}

// (size, stride) pairs, innermost first, merged where contiguous with each other.
Geometry<1> dims_geometry(const std::vector<std::pair<int64_t, int64_t>>& dims, std::string_view op) {
  Geometry<1> g;
  for (const auto& [size, stride] : dims) {
    if (size == 1) continue;
    if (g.ndim > 0 && stride == g.strides[g.ndim - 1][0] * g.sizes[g.ndim - 1]) {
      g.sizes[g.ndim - 1] *= size;
      continue;
    }
    if (g.ndim == kMaxDims) throw_error(op, "has more dimensions than the CUDA reductions take");
    g.sizes[g.ndim] = size;
    g.strides[g.ndim][0] = stride;
    ++g.ndim;
  }
  return g;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Runs reducer `red` over x's dims `reduced` (sorted) into out (and idx for the arg reductions).
template <typename R, typename S, typename O>
void run_reduce(const KernelCtx& c, const R& red, const Tensor& x, IntArrayRef reduced, O* out, int64_t* idx) {
  std::vector<std::pair<int64_t, int64_t>> kept_dims, red_dims;
  int64_t M = 1, Rn = 1;
  size_t k = reduced.size();
  for (int64_t d = x.dim() - 1; d >= 0; --d) {
    const bool is_red = k > 0 && reduced[k - 1] == d;
    if (is_red) {
      --k;
      red_dims.push_back({x.size(d), x.stride(d)});
      Rn *= x.size(d);
    } else {
      kept_dims.push_back({x.size(d), x.stride(d)});
      M *= x.size(d);
    }
  }
  if (M == 0) return;
  const Geometry<1> kg = dims_geometry(kept_dims, c.name), rg = dims_geometry(red_dims, c.name);
  const bool rows = Rn >= 32 && rg.ndim > 0 && rg.strides[0][0] == 1;
  int splits = 1;
  if (rows) splits = static_cast<int>(std::clamp<int64_t>(ceil_div(4096, M), 1, ceil_div(Rn, 256)));
  else splits = static_cast<int>(std::clamp<int64_t>(ceil_div(528, ceil_div(M, 32)), 1, ceil_div(Rn, 128)));
  splits = std::min(splits, 1024);
  const int64_t chunk = ceil_div(std::max<int64_t>(Rn, 1), splits);
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t stream = current_stream(dev);
  using A = typename R::A;
  Tensor partial_t;
  A* partial = nullptr;
  if (splits > 1) {
    partial_t = Tensor(empty_base({static_cast<int64_t>(splits * M * sizeof(A))}, kU8, x.device()));
    partial = static_cast<A*>(partial_t.data());
  }
  const S* in = static_cast<const S*>(x.data());
  const auto go = [&](auto index_tag) {
    using Index = decltype(index_tag);
    ReducePlan<Index> p{OffsetCalc<1, Index>(kg), OffsetCalc<1, Index>(rg), M, Rn, splits, chunk};
    if (rows)
      launch(c.name, reduce_rows_kernel<R, S, O, Index>, static_cast<unsigned>(ceil_div(M * splits, kWarpsPerBlock)),
             256, 0, stream, red, in, out, idx, partial, p);
    else
      launch(c.name, reduce_cols_kernel<R, S, O, Index>,
             dim3(static_cast<unsigned>(ceil_div(M, 32)), static_cast<unsigned>(splits)), dim3(32, kWarpsPerBlock), 0,
             stream, red, in, out, idx, partial, p);
  };
  if (kg.fits_32bit() && rg.fits_32bit() && M <= INT32_MAX && Rn <= INT32_MAX) go(uint32_t{});
  else go(int64_t{});
  if (splits > 1)
    launch(c.name, reduce_partials_kernel<R, O>, blocks_for(M, 256), 256, 0, stream, red,
           static_cast<const A*>(partial), splits, M, out, idx);
}

// dims: normalised and sorted by the front function (ops/defs/reduce.cpp), as the CPU kernels take them.
template <template <typename, typename> class Op>
void sum_like(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  visit_all(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    using O = std::conditional_t<std::is_integral_v<S>, int64_t, S>;  // integers and bool widen to int64
    run_reduce<Op<S, O>, S, O>(c, Op<S, O>{}, x, c.attrs.get<ReduceAttrs>().dims, static_cast<O*>(c.out[0].data()),
                               nullptr);
  });
}

template <bool IsMax>
void extreme(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  visit_number(x.dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    run_reduce<Extreme<S, IsMax>, S, S>(c, Extreme<S, IsMax>{}, x, c.attrs.get<ReduceAttrs>().dims,
                                        static_cast<S*>(c.out[0].data()), nullptr);
  });
}

template <bool IsMax>
void arg_extreme(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  const Shape dims = x.dim() ? Shape{wrap_dim(c.attrs.get<DimReduceAttrs>().dim, x.dim(), c.name)} : Shape{};
  visit_number(x.dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    run_reduce<ArgExtreme<S, IsMax>, S, S>(c, ArgExtreme<S, IsMax>{}, x, dims, static_cast<S*>(c.out[0].data()),
                                           static_cast<int64_t*>(c.out[1].data()));
  });
}

// cumsum: a block per line (every index but the scanned dim), 256-element tiles in order with a running carry;
// within a tile, warp scans (shfl_up) and a scan of the warp totals.
template <typename S, typename O, typename A>
__global__ void __launch_bounds__(256) cumsum_kernel(const S* in, O* out, OffsetCalc<2, int64_t> lines, int64_t n,
                                                     int64_t in_stride, int64_t out_stride) {
  alignas(16) __shared__ unsigned char warp_raw[8 * sizeof(A)];
  A* warp_sums = reinterpret_cast<A*>(warp_raw);
  int64_t base[2];
  lines.get(blockIdx.x, base);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  A carry = A(0);
  for (int64_t t0 = 0; t0 < n; t0 += 256) {
    const int64_t r = t0 + threadIdx.x;
    A v = r < n ? static_cast<A>(load(in + base[1] + r * in_stride)) : A(0);
    for (int d = 1; d < 32; d <<= 1) {
      const A u = __shfl_up_sync(0xffffffffu, v, d);
      if (lane >= d) v += u;
    }
    if (lane == 31) warp_sums[warp] = v;
    __syncthreads();
    A before = carry;
    for (int w = 0; w < warp; ++w) before += warp_sums[w];
    A tile = A(0);
    for (int w = 0; w < 8; ++w) tile += warp_sums[w];
    if (r < n) out[base[0] + r * out_stride] = cvt<O>(before + v);
    carry += tile;
    __syncthreads();  // warp_sums is rewritten by the next tile
  }
}

}  // namespace

void sum(const KernelCtx& c) { sum_like<Sum>(c); }
void prod(const KernelCtx& c) { sum_like<Prod>(c); }
void amax(const KernelCtx& c) { extreme<true>(c); }
void amin(const KernelCtx& c) { extreme<false>(c); }
void max_dim(const KernelCtx& c) { arg_extreme<true>(c); }
void min_dim(const KernelCtx& c) { arg_extreme<false>(c); }

// x: any strides -> out: contiguous, same shape; running sums along dim.
void cumsum(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  const Tensor& out = c.out[0];
  if (out.numel() == 0) return;
  const int64_t d = x.dim() ? wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name) : 0;
  const int64_t n = x.dim() ? x.size(d) : 1;
  // The lines: every dim but d, for the output and the input.
  Geometry<2> g;
  int64_t lines = 1;
  for (int64_t k = x.dim() - 1; k >= 0; --k) {
    if (k == d || x.size(k) == 1) continue;
    g.sizes[g.ndim] = x.size(k);
    g.strides[g.ndim][0] = out.stride(k);
    g.strides[g.ndim][1] = x.stride(k);
    ++g.ndim;
    lines *= x.size(k);
  }
  g.numel = lines;
  DeviceGuard guard(x.device().index);
  visit_all(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    using A = acc_t<S>;
    using O = std::conditional_t<std::is_integral_v<S>, int64_t, S>;
    launch(c.name, cumsum_kernel<S, O, A>, static_cast<unsigned>(lines), 256, 0, current_stream(x.device().index),
           static_cast<const S*>(x.data()), static_cast<O*>(out.data()), OffsetCalc<2, int64_t>(g), n,
           x.dim() ? x.stride(d) : int64_t{0}, x.dim() ? out.stride(d) : int64_t{0});
  });
}

}  // namespace ds::cuda
