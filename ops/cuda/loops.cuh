#pragma once
// The elementwise engine of the CUDA backend (internal), the GPU twin of ops/cpu/loops.h: an op supplies only a
// functor on compute-type values; the engine handles broadcasting (stride 0), any strides, mixed storage types, CPU
// scalars (a Python-number operand arrives as a 0-d CPU tensor and travels as a kernel argument), 32- or 64-bit
// index math, and a vectorised path when every operand is contiguous and aligned.
//   out: any shape and strides; in[k]: broadcast to out's shape -> out[i] = op(in0[i], in1[i], ...)
#include <array>
#include <cstring>
#include <tuple>
#include <utility>

#include <ds/core/error.h>
#include <ds/ops/op_def.h>

#include "launch.cuh"
#include "stream.h"
#include "types.cuh"

namespace ds::cuda {

inline constexpr int kMaxDims = 16;

// Division by a fixed 32-bit divisor with a multiply and a shift (Granlund-Montgomery), for index math; valid for
// dividends below 2^31.
struct IntDivider {
  uint32_t divisor = 1, magic = 0, shift = 0;
  IntDivider() = default;
  explicit IntDivider(uint32_t d) : divisor(d) {
    while (shift < 32 && (uint64_t{1} << shift) < d) ++shift;
    magic = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d)) / d + 1);
  }
  __host__ __device__ __forceinline__ uint32_t div(uint32_t n) const {
#if defined(__CUDA_ARCH__)
    const uint32_t t = __umulhi(n, magic);
#else
    const auto t = static_cast<uint32_t>((uint64_t{n} * magic) >> 32);
#endif
    return (t + n) >> shift;
  }
};

// The iteration space of N operands (operand 0 the output): innermost dimension first, size-1 dimensions dropped and
// mergeable ones merged; strides in elements of each operand (0 where it broadcasts or is a scalar).
template <int N>
struct Geometry {
  int ndim = 0;
  int64_t numel = 1;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims][N] = {};
  uint32_t scalar_mask = 0;  // bit k: operand k is a scalar
  // Every operand either a scalar or contiguous over the whole space (the vectorised path).
  bool flat() const {
    if (ndim > 1) return false;
    for (int k = 0; k < N; ++k)
      if (!((scalar_mask >> k) & 1u) && ndim == 1 && strides[0][k] != 1) return false;
    return true;
  }
  // Whether unsigned 32-bit offsets reach every element of every operand (a negative stride, as in flip's view,
  // takes the 64-bit path).
  bool fits_32bit() const {
    if (numel > INT32_MAX) return false;
    for (int k = 0; k < N; ++k) {
      int64_t far = 0;
      for (int d = 0; d < ndim; ++d) {
        if (strides[d][k] < 0) return false;
        far += (sizes[d] - 1) * strides[d][k];
      }
      if (far > INT32_MAX) return false;
    }
    return true;
  }
};

// ts[0] is the output; scalar operands (bit k of scalar_mask) count as stride 0 everywhere.
template <int N>
Geometry<N> make_geometry(const std::array<const Tensor*, N>& ts, uint32_t scalar_mask, std::string_view op) {
  Geometry<N> g;
  g.scalar_mask = scalar_mask;
  const Shape& shape = ts[0]->sizes();
  const int nd = static_cast<int>(shape.size());
  g.numel = ts[0]->numel();
  for (int i = nd - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    int64_t st[N];
    for (int k = 0; k < N; ++k) {
      const Tensor& t = *ts[k];
      const int64_t d = i - (nd - t.dim());
      st[k] = ((scalar_mask >> k) & 1u) || d < 0 || t.sizes()[d] == 1 ? 0 : t.strides()[d];
    }
    if (g.ndim > 0) {
      bool merge = true;
      for (int k = 0; k < N; ++k) merge &= st[k] == g.strides[g.ndim - 1][k] * g.sizes[g.ndim - 1];
      if (merge) {
        g.sizes[g.ndim - 1] *= shape[i];
        continue;
      }
    }
    if (g.ndim == kMaxDims)
      throw_error(op, "has more than " + std::to_string(kMaxDims) + " dimensions that cannot be merged (" +
                          shape_str(shape) + "); the CUDA kernels take at most " + std::to_string(kMaxDims));
    g.sizes[g.ndim] = shape[i];
    for (int k = 0; k < N; ++k) g.strides[g.ndim][k] = st[k];
    ++g.ndim;
  }
  return g;
}

// Offsets of the N operands for a linear index, in Index arithmetic (uint32_t with IntDivider, or int64_t).
template <int N, typename Index>
struct OffsetCalc {
  int ndim = 0;
  Index sizes[kMaxDims];
  IntDivider div[kMaxDims];
  Index strides[kMaxDims][N];

  explicit OffsetCalc(const Geometry<N>& g) : ndim(g.ndim) {
    for (int d = 0; d < g.ndim; ++d) {
      sizes[d] = static_cast<Index>(g.sizes[d]);
      if constexpr (std::is_same_v<Index, uint32_t>) div[d] = IntDivider(static_cast<uint32_t>(g.sizes[d]));
      for (int k = 0; k < N; ++k) strides[d][k] = static_cast<Index>(g.strides[d][k]);
    }
  }
  __device__ __forceinline__ void get(Index linear, Index (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
#pragma unroll
    for (int d = 0; d < kMaxDims; ++d) {
      if (d == ndim) break;
      Index q;
      if constexpr (std::is_same_v<Index, uint32_t>) q = div[d].div(linear);
      else q = linear / sizes[d];
      const Index r = linear - q * sizes[d];
      linear = q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += r * strides[d][k];
    }
  }
};

// The operands a kernel reads: pointers, and the value bits of scalar operands.
template <int NIn>
struct Inputs {
  const void* ptr[NIn > 0 ? NIn : 1] = {};
  uint64_t scalar_bits[NIn > 0 ? NIn : 1] = {};
  uint32_t scalar_mask = 0;
};

template <typename S, int NIn, typename Index>
__device__ __forceinline__ compute_t<S> read_input(const Inputs<NIn>& in, int k, Index off) {
  if ((in.scalar_mask >> k) & 1u) {
    S v;
    memcpy(static_cast<void*>(&v), &in.scalar_bits[k], sizeof(S));
    return cvt<compute_t<S>>(v);
  }
  return load(static_cast<const S*>(in.ptr[k]) + off);
}

inline constexpr int kElementwiseThreads = 128;
inline constexpr int kElementwisePerThread = 4;

template <typename Op, typename SO, typename... SI, size_t... K, typename Index>
__device__ __forceinline__ void apply_at(const Op& op, SO* out, const Inputs<sizeof...(SI)>& in,
                                         const Index (&off)[sizeof...(SI) + 1], std::index_sequence<K...>) {
  out[off[0]] = cvt<SO>(op(read_input<SI>(in, static_cast<int>(K), off[K + 1])...));
}

// Any strides: each thread handles kElementwisePerThread elements blockDim.x apart (coalesced).
template <typename Op, typename Index, typename SO, typename... SI>
__global__ void __launch_bounds__(kElementwiseThreads)
    elementwise_strided_kernel(Op op, SO* out, Inputs<sizeof...(SI)> in, OffsetCalc<sizeof...(SI) + 1, Index> oc,
                               Index n) {
  constexpr int N = sizeof...(SI) + 1;
  Index i = static_cast<Index>(blockIdx.x) * (blockDim.x * kElementwisePerThread) + threadIdx.x;
#pragma unroll
  for (int u = 0; u < kElementwisePerThread; ++u, i += blockDim.x) {
    if (i >= n) return;
    Index off[N];
    oc.get(i, off);
    apply_at<Op, SO, SI...>(op, out, in, off, std::index_sequence_for<SI...>{});
  }
}

template <typename T, int V>
struct alignas(sizeof(T) * V) Packet {
  T v[V];
};

// Every operand contiguous (or scalar) and aligned to a packet: each thread loads and stores one packet of
// kElementwisePerThread elements per operand; the tail past the last whole packet goes element by element.
template <typename Op, typename SO, typename... SI, size_t... K>
__device__ __forceinline__ void apply_packet(const Op& op, SO* out, const Inputs<sizeof...(SI)>& in, int64_t base,
                                             std::index_sequence<K...>) {
  constexpr int V = kElementwisePerThread;
  std::tuple<Packet<compute_t<SI>, V>...> vals;
  (
      [&] {
        using S = std::tuple_element_t<K, std::tuple<SI...>>;
        auto& dst = std::get<K>(vals);
        if ((in.scalar_mask >> K) & 1u) {
          const compute_t<S> s = read_input<S>(in, static_cast<int>(K), int64_t{0});
          for (int j = 0; j < V; ++j) dst.v[j] = s;
        } else {
          const Packet<S, V> p = *reinterpret_cast<const Packet<S, V>*>(static_cast<const S*>(in.ptr[K]) + base);
          for (int j = 0; j < V; ++j) dst.v[j] = cvt<compute_t<S>>(p.v[j]);
        }
      }(),
      ...);
  Packet<SO, V> o;
#pragma unroll
  for (int j = 0; j < V; ++j) o.v[j] = cvt<SO>(op(std::get<K>(vals).v[j]...));
  *reinterpret_cast<Packet<SO, V>*>(out + base) = o;
}

template <typename Op, typename SO, typename... SI>
__global__ void __launch_bounds__(kElementwiseThreads)
    elementwise_flat_kernel(Op op, SO* out, Inputs<sizeof...(SI)> in, int64_t n) {
  constexpr int V = kElementwisePerThread;
  const int64_t base = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (base + V <= n) {
    apply_packet<Op, SO, SI...>(op, out, in, base, std::index_sequence_for<SI...>{});
  } else {
    for (int64_t i = base; i < n; ++i) {
      int64_t offs[sizeof...(SI) + 1];
      for (auto& o : offs) o = i;  // scalar operands ignore theirs
      apply_at<Op, SO, SI...>(op, out, in, offs, std::index_sequence_for<SI...>{});
    }
  }
}

// Runs out = op(in...) for the kernel context's output 0 and inputs 0..NIn-1, whose device storage types are SO and
// SI... (the rule has cast them). CPU inputs must be 0-d (scalars); they travel by value.
template <typename SO, typename... SI, typename Op>
void elementwise(const KernelCtx& c, Op op) {
  constexpr int NIn = sizeof...(SI);
  constexpr int N = NIn + 1;
  const Tensor& out = c.out[0];
  if (out.numel() == 0) return;
  std::array<const Tensor*, N> ts;
  ts[0] = &out;
  Inputs<NIn> in;
  constexpr size_t sizes[NIn > 0 ? NIn : 1] = {sizeof(SI)...};
  for (int k = 0; k < NIn; ++k) {
    const Tensor& t = c.in[k];
    ts[k + 1] = &t;
    if (t.is_cpu()) {
      if (t.numel() != 1)
        throw_error(c.name, "input " + std::to_string(k) + " is a CPU tensor of shape " + shape_str(t.sizes()) +
                                "; a CUDA op takes CPU tensors only as scalars");
      in.scalar_mask |= 1u << (k + 1);
      std::memcpy(&in.scalar_bits[k], t.data(), sizes[k]);
    } else {
      in.ptr[k] = t.data();
    }
  }
  const Geometry<N> g = make_geometry<N>(ts, in.scalar_mask, c.name);
  in.scalar_mask >>= 1;  // bit k: input k (the geometry counted the output as operand 0)
  DeviceGuard guard(out.device().index);
  const cudaStream_t stream = current_stream(out.device().index);
  SO* o = static_cast<SO*>(out.data());
  constexpr int per_block = kElementwiseThreads * kElementwisePerThread;
  const unsigned blocks = blocks_for(g.numel, per_block);
  bool aligned = reinterpret_cast<uintptr_t>(o) % sizeof(Packet<SO, kElementwisePerThread>) == 0;
  constexpr size_t packet[NIn > 0 ? NIn : 1] = {sizeof(Packet<SI, kElementwisePerThread>)...};
  for (int k = 0; k < NIn; ++k)
    aligned &= ((in.scalar_mask >> k) & 1u) || reinterpret_cast<uintptr_t>(in.ptr[k]) % packet[k] == 0;
  if (g.flat() && aligned) {
    launch(c.name, elementwise_flat_kernel<Op, SO, SI...>, blocks, kElementwiseThreads, 0, stream, op, o, in,
           g.numel);
  } else if (g.fits_32bit()) {
    launch(c.name, elementwise_strided_kernel<Op, uint32_t, SO, SI...>, blocks, kElementwiseThreads, 0, stream, op,
           o, in, OffsetCalc<N, uint32_t>(g), static_cast<uint32_t>(g.numel));
  } else {
    launch(c.name, elementwise_strided_kernel<Op, int64_t, SO, SI...>, blocks, kElementwiseThreads, 0, stream, op,
           o, in, OffsetCalc<N, int64_t>(g), g.numel);
  }
}

}  // namespace ds::cuda
