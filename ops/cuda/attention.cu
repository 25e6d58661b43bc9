// CUDA kernels of scaled_dot_product_attention and its backward: the reference SIMT version, a warp per query row
// (forward, dq) or per key row (dk, dv), with the CPU kernels' semantics (ops/cpu/attention.cpp): scores
// scale * q.k (+ a float mask, or -inf where a bool mask is false or causality forbids), an online softmax (running
// max and sum), lse saved for the backward, which recomputes P = exp(S - lse) instead of storing it; dropout from
// the same Philox counters as the CPU (element e = (bh * L + i) * S + j draws word e % 4 of counter offset + e / 4),
// so both devices drop the same entries for a seed. Every dtype: 16-bit floats compute in float. Each output row is
// owned by one warp, so no atomics: results are deterministic. Lanes own elements lane, lane + 32, ... of the
// head dims, up to 256. The tensor-core (mma.sync) flash kernel for f16/bf16 is the planned fast path. With dropout,
// the Philox state (seed, offset) is the last input of both ops, a CPU tensor read on the host (ops/rng_input.h).
#include <ds/core/rng.h>

#include <ds/ops/rng_input.h>
#include "block_reduce.cuh"
#include "kernels.h"
#include "loops.cuh"
#include "math.cuh"

namespace ds::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kPerLane = 8;  // head dims up to 32 * 8

// A (B, H, N, D) operand read through its strides (the last dim contiguous).
template <typename S>
struct Heads {
  const S* data;
  int64_t H, sb, sh, sn;
  __device__ const S* row(int64_t bh, int64_t n) const { return data + (bh / H) * sb + (bh % H) * sh + n * sn; }
};
template <typename S>
Heads<S> heads(const Tensor& t) {
  const bool four = t.dim() == 4;
  return {static_cast<const S*>(t.data()), four ? t.size(1) : t.size(0), four ? t.stride(0) : 0,
          four ? t.stride(1) : t.stride(0), t.stride(t.dim() - 2)};
}

template <typename S>
struct Problem {
  using A = compute_t<S>;
  Heads<S> q, k, v;
  int64_t BH, L, S_, E, Ev;
  A scale;
  bool causal;
  double p;  // dropout probability; entries whose unit float is below float(p) drop, the rest scale by 1 / (1 - p)
  uint64_t seed, offset;
  int mask_kind = 0;  // 0 none, 1 bool, 2 additive (S)
  const void* mask = nullptr;
  int64_t mH = 1, msb = 0, msh = 0, msl = 0, mss = 0;

  // scale * q_i . k_j with the mask; every lane gets the same value.
  __device__ A score(int64_t bh, int64_t i, int64_t j, int lane) const {
    if (causal && j > i) return -INFINITY;
    const S *qi = q.row(bh, i), *kj = k.row(bh, j);
    A s = 0;
    for (int64_t e = lane; e < E; e += 32) s += load(qi + e) * load(kj + e);
    s = warp_reduce(s, SumOp{}) * scale;
    if (mask_kind != 0) {
      const int64_t off = (bh / mH) * msb + (bh % mH) * msh + i * msl + j * mss;
      if (mask_kind == 1) {
        if (!static_cast<const bool*>(mask)[off]) s = -INFINITY;
      } else {
        s += load(static_cast<const S*>(mask) + off);
      }
    }
    return s;
  }
  // keep / (1 - p) for entry (i, j), or 1 without dropout.
  __device__ A drop(int64_t bh, int64_t i, int64_t j) const {
    if (p <= 0) return A(1);
    const uint64_t e = static_cast<uint64_t>((bh * L + i) * S_ + j);
    const auto w = philox::draw(seed, offset + e / 4);
    return philox::to_unit_float(w[e % 4]) >= static_cast<float>(p) ? A(1) / A(1 - p) : A(0);
  }
  // The last key row i may see, plus one.
  __device__ int64_t key_end(int64_t i) const { return causal ? dmin(S_, i + 1) : S_; }
};

template <typename S>
__global__ void __launch_bounds__(32 * kWarps) attention_kernel(Problem<S> pb, S* out, S* lse) {
  using A = compute_t<S>;
  const int lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= pb.BH * pb.L) return;  // whole warps leave together
  const int64_t bh = row / pb.L, i = row % pb.L;
  A acc[kPerLane] = {};
  A m = -INFINITY, l = 0;
  const int64_t jend = pb.key_end(i);
  for (int64_t j = 0; j < jend; ++j) {
    const A s = pb.score(bh, i, j, lane);
    const A m_new = s > m ? s : m;
    if (m_new == -INFINITY) continue;  // nothing to attend to yet
    const A alpha = m::exp(m - m_new), e = s == -INFINITY ? A(0) : m::exp(s - m_new);
    l = l * alpha + e;
    m = m_new;
    const A w = e * pb.drop(bh, i, j);
    const S* vj = pb.v.row(bh, j);
#pragma unroll
    for (int t = 0; t < kPerLane; ++t) {
      const int64_t c = lane + 32 * t;
      if (c < pb.Ev) acc[t] = acc[t] * alpha + w * load(vj + c);
    }
  }
  const bool any = l > A(0);
  S* o = out + row * pb.Ev;
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    const int64_t c = lane + 32 * t;
    if (c < pb.Ev) o[c] = cvt<S>(any ? acc[t] / l : A(0));
  }
  if (lane == 0) lse[row] = cvt<S>(any ? m + m::log(l) : A(-INFINITY));
}

// D_i = dO_i . O_i, the softmax backward's row term.
template <typename S>
__global__ void __launch_bounds__(32 * kWarps) attention_rowdot_kernel(Heads<S> g, const S* out, compute_t<S>* D,
                                                                       int64_t rows, int64_t L, int64_t Ev) {
  using A = compute_t<S>;
  const int lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= rows) return;
  const S *gi = g.row(row / L, row % L), *oi = out + row * Ev;
  A s = 0;
  for (int64_t c = lane; c < Ev; c += 32) s += load(gi + c) * load(oi + c);
  s = warp_reduce(s, SumOp{});
  if (lane == 0) D[row] = s;
}

// P_ij = exp(S_ij - lse_i) (0 where masked); dS_ij = P_ij (dP_ij - D_i) scale with dP_ij = dO_i . v_j (dropped).
template <typename S>
__device__ __forceinline__ void pair_terms(const Problem<S>& pb, const Heads<S>& g, const S* lse,
                                           const compute_t<S>* D, int64_t bh, int64_t i, int64_t j, int lane,
                                           compute_t<S>& w, compute_t<S>& ds) {
  using A = compute_t<S>;
  const A s = pb.score(bh, i, j, lane);
  const A lr = load(lse + bh * pb.L + i);
  const A p = lr == -INFINITY || s == -INFINITY ? A(0) : m::exp(s - lr);
  const A keep = pb.drop(bh, i, j);
  const S *gi = g.row(bh, i), *vj = pb.v.row(bh, j);
  A dp = 0;
  for (int64_t c = lane; c < pb.Ev; c += 32) dp += load(gi + c) * load(vj + c);
  dp = warp_reduce(dp, SumOp{}) * keep;
  w = p * keep;
  ds = p * (dp - D[bh * pb.L + i]) * pb.scale;
}

// dq_i = sum_j dS_ij k_j
template <typename S>
__global__ void __launch_bounds__(32 * kWarps) attention_dq_kernel(Problem<S> pb, Heads<S> g, const S* lse,
                                                                   const compute_t<S>* D, S* dq) {
  using A = compute_t<S>;
  const int lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= pb.BH * pb.L) return;
  const int64_t bh = row / pb.L, i = row % pb.L;
  A acc[kPerLane] = {};
  const int64_t jend = pb.key_end(i);
  for (int64_t j = 0; j < jend; ++j) {
    A w, ds;
    pair_terms(pb, g, lse, D, bh, i, j, lane, w, ds);
    const S* kj = pb.k.row(bh, j);
#pragma unroll
    for (int t = 0; t < kPerLane; ++t) {
      const int64_t c = lane + 32 * t;
      if (c < pb.E) acc[t] += ds * load(kj + c);
    }
  }
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    const int64_t c = lane + 32 * t;
    if (c < pb.E) dq[row * pb.E + c] = cvt<S>(acc[t]);
  }
}

// dk_j = sum_i dS_ij q_i, dv_j = sum_i W_ij dO_i
template <typename S>
__global__ void __launch_bounds__(32 * kWarps) attention_dkdv_kernel(Problem<S> pb, Heads<S> g, const S* lse,
                                                                     const compute_t<S>* D, S* dk, S* dv) {
  using A = compute_t<S>;
  const int lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= pb.BH * pb.S_) return;
  const int64_t bh = row / pb.S_, j = row % pb.S_;
  A ak[kPerLane] = {}, av[kPerLane] = {};
  for (int64_t i = pb.causal ? j : 0; i < pb.L; ++i) {
    A w, ds;
    pair_terms(pb, g, lse, D, bh, i, j, lane, w, ds);
    const S *qi = pb.q.row(bh, i), *gi = g.row(bh, i);
#pragma unroll
    for (int t = 0; t < kPerLane; ++t) {
      const int64_t c = lane + 32 * t;
      if (c < pb.E) ak[t] += ds * load(qi + c);
      if (c < pb.Ev) av[t] += w * load(gi + c);
    }
  }
#pragma unroll
  for (int t = 0; t < kPerLane; ++t) {
    const int64_t c = lane + 32 * t;
    if (c < pb.E) dk[row * pb.E + c] = cvt<S>(ak[t]);
    if (c < pb.Ev) dv[row * pb.Ev + c] = cvt<S>(av[t]);
  }
}

// q, k, v and the inputs after the fixed ones ([mask] [Philox state, with dropout]) as the kernels read them;
// attrs: AttentionAttrs.
template <typename S>
Problem<S> problem(const KernelCtx& c, std::span<const Tensor> qkv, std::span<const Tensor> extra) {
  const auto& a = c.attrs.get<AttentionAttrs>();
  const Tensor &q = qkv[0], &k = qkv[1], &v = qkv[2];
  const bool dropout = a.dropout_p > 0;
  const PhiloxState rng = dropout ? rng_input::read(extra.back()) : PhiloxState{};
  const Tensor* mask = extra.size() > (dropout ? 1u : 0u) ? &extra[0] : nullptr;
  if (q.size(-1) > 32 * kPerLane || v.size(-1) > 32 * kPerLane)
    throw_error(c.name, "takes head dims up to " + std::to_string(32 * kPerLane) + " on CUDA, got " +
                            std::to_string(q.size(-1)) + " and " + std::to_string(v.size(-1)));
  Problem<S> pb{heads<S>(q), heads<S>(k), heads<S>(v), q.numel() / (q.size(-2) * q.size(-1)), q.size(-2),
                k.size(-2), q.size(-1), v.size(-1), static_cast<compute_t<S>>(a.scale), a.is_causal, a.dropout_p,
                rng.seed, rng.offset};
  if (mask != nullptr) {
    const Tensor& m = *mask;
    pb.mask_kind = m.dtype() == kBool ? 1 : 2;
    pb.mask = m.data();
    pb.mH = q.dim() == 4 ? q.size(1) : q.size(0);
    int64_t* st[4] = {&pb.msb, &pb.msh, &pb.msl, &pb.mss};
    for (int64_t d = 0; d < m.dim(); ++d)  // right-aligned against (B, H, L, S)
      *st[4 - m.dim() + d] = m.size(d) == 1 ? 0 : m.stride(d);
  }
  return pb;
}

unsigned warp_blocks(int64_t rows) { return static_cast<unsigned>((rows + kWarps - 1) / kWarps); }

}  // namespace

// q, k, v [, mask] [, Philox state] -> out (..., L, Ev), lse (..., L)
void scaled_dot_product_attention(const KernelCtx& c) {
  const int dev = c.out[0].device().index;
  DeviceGuard guard(dev);
  visit_float(c.in[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    const Problem<S> pb = problem<S>(c, c.in.subspan(0, 3), c.in.subspan(3));
    if (pb.BH * pb.L == 0) return;
    launch(c.name, attention_kernel<S>, warp_blocks(pb.BH * pb.L), 32 * kWarps, 0, current_stream(dev), pb,
           static_cast<S*>(c.out[0].data()), static_cast<S*>(c.out[1].data()));
  });
}

// grad_out, q, k, v, out, lse [, mask] [, Philox state] -> dq, dk, dv
void scaled_dot_product_attention_backward(const KernelCtx& c) {
  const int dev = c.out[0].device().index;
  DeviceGuard guard(dev);
  const cudaStream_t stream = current_stream(dev);
  visit_float(c.in[1].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    using A = compute_t<S>;
    const Problem<S> pb = problem<S>(c, c.in.subspan(1, 3), c.in.subspan(6));
    const Heads<S> g = heads<S>(c.in[0]);
    const S* lse = static_cast<const S*>(c.in[5].data());
    S *dq = static_cast<S*>(c.out[0].data()), *dk = static_cast<S*>(c.out[1].data());
    S* dv = static_cast<S*>(c.out[2].data());
    if (pb.BH * pb.L == 0) {  // no queries: the keys get zero gradients
      for (const Tensor& t : c.out.subspan(1, 2))
        DS_CUDA_CHECK(cudaMemsetAsync(t.data(), 0, t.numel() * t.element_size(), stream));
      return;
    }
    const Tensor D_t(empty_base({pb.BH * pb.L}, c.in[1].dtype() == kF64 ? kF64 : kF32, c.out[0].device()));
    A* D = static_cast<A*>(D_t.data());
    launch(c.name, attention_rowdot_kernel<S>, warp_blocks(pb.BH * pb.L), 32 * kWarps, 0, stream, g,
           static_cast<const S*>(c.in[4].data()), D, pb.BH * pb.L, pb.L, pb.Ev);
    launch(c.name, attention_dq_kernel<S>, warp_blocks(pb.BH * pb.L), 32 * kWarps, 0, stream, pb, g, lse,
           static_cast<const A*>(D), dq);
    if (pb.BH * pb.S_ > 0)
      launch(c.name, attention_dkdv_kernel<S>, warp_blocks(pb.BH * pb.S_), 32 * kWarps, 0, stream, pb, g, lse,
             static_cast<const A*>(D), dk, dv);
  });
}

}  // namespace ds::cuda
