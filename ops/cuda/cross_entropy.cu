// CUDA kernels of softmax_cross_entropy and its backward (f32, f64), with the CPU kernels' definitions
// (ops/cpu/cross_entropy.cpp): logits (N, C) rows, a block per row; the row's max, then the sum of exponentials
// give the log-sum-exp, kept for the backward. A target outside [0, C) that is not ignore_index is recorded and
// reported at the next synchronisation (index_error.h), its row left unwritten.
#include "block_reduce.cuh"
#include "index_check.cuh"
#include "kernels.h"
#include "loops.cuh"
#include "math.cuh"

namespace ds::cuda {
namespace {

template <typename T>
__global__ void __launch_bounds__(kRowThreads) cross_entropy_kernel(const T* x, const int64_t* target, T* loss, T* lse,
                                                                    int64_t C, int64_t ignore, T eps,
                                                                    IndexErrorRecord* rec) {
  __shared__ T scratch[kRowThreads / 32];
  const int64_t row = blockIdx.x;
  const T* xr = x + row * C;
  T mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < C; j += kRowThreads) mx = MaxOp{}(mx, xr[j]);
  mx = block_reduce(mx, scratch, MaxOp{});
  T s = 0, sx = 0;
  for (int64_t j = threadIdx.x; j < C; j += kRowThreads) {
    s += m::exp(xr[j] - mx);
    sx += xr[j];
  }
  s = block_reduce(s, scratch, SumOp{});
  if (eps > 0) sx = block_reduce(sx, scratch, SumOp{});
  if (threadIdx.x != 0) return;
  const T l = mx + m::log(s);
  lse[row] = l;
  const int64_t t = target[row];
  if (t == ignore) {
    loss[row] = T(0);
    return;
  }
  if (!index_in_range(rec, OpId::softmax_cross_entropy, 1, t, C)) return;
  const T nll = l - xr[t];
  // Smoothing spreads eps over every class: (1 - eps) nll + eps * mean over classes of (lse - x_c).
  loss[row] = eps > 0 ? (T(1) - eps) * nll + eps * (l - sx / static_cast<T>(C)) : nll;
}

template <typename T>
__global__ void __launch_bounds__(kRowThreads) cross_entropy_backward_kernel(const T* g, const T* x, const int64_t* target,
                                                                             const T* lse, T* dx, int64_t C,
                                                                             int64_t ignore, T eps) {
  const int64_t row = blockIdx.x;
  const int64_t t = target[row];
  T* dr = dx + row * C;
  if (t == ignore) {
    for (int64_t j = threadIdx.x; j < C; j += kRowThreads) dr[j] = T(0);
    return;
  }
  const T* xr = x + row * C;
  const T gi = g[row], l = lse[row], off = eps / static_cast<T>(C);
  for (int64_t j = threadIdx.x; j < C; j += kRowThreads) {
    T d = (m::exp(xr[j] - l) - off) * gi;
    if (j == t) d -= (T(1) - eps) * gi;
    dr[j] = d;
  }
}

}  // namespace

// logits (N, C), target (N) int64 -> loss (N), lse (N). CrossEntropyAttrs: ignore_index, label_smoothing
void softmax_cross_entropy(const KernelCtx& c) {
  const auto& a = c.attrs.get<CrossEntropyAttrs>();
  const Tensor x = contiguous_copy(c.in[0]), target = contiguous_copy(c.in[1]);
  const int64_t N = x.size(0), C = x.size(1);
  if (N == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_float(x.dtype(), c.name, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
      launch(c.name, cross_entropy_kernel<T>, static_cast<unsigned>(N), kRowThreads, 0, current_stream(dev),
             static_cast<const T*>(x.data()), static_cast<const int64_t*>(target.data()),
             static_cast<T*>(c.out[0].data()), static_cast<T*>(c.out[1].data()), C, a.ignore_index,
             static_cast<T>(a.label_smoothing), index_error_record(dev));
    else throw_no_dtype(c.name, x.dtype());
  });
}

// g (N), logits (N, C), target (N), lse (N) -> dlogits (N, C)
void softmax_cross_entropy_backward(const KernelCtx& c) {
  const auto& a = c.attrs.get<CrossEntropyAttrs>();
  const Tensor g = contiguous_copy(c.in[0]), x = contiguous_copy(c.in[1]), target = contiguous_copy(c.in[2]);
  const Tensor lse = contiguous_copy(c.in[3]);
  const int64_t N = x.size(0), C = x.size(1);
  if (N == 0 || C == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_float(x.dtype(), c.name, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
      launch(c.name, cross_entropy_backward_kernel<T>, static_cast<unsigned>(N), kRowThreads, 0, current_stream(dev),
             static_cast<const T*>(g.data()), static_cast<const T*>(x.data()),
             static_cast<const int64_t*>(target.data()), static_cast<const T*>(lse.data()),
             static_cast<T*>(c.out[0].data()), C, a.ignore_index, static_cast<T>(a.label_smoothing));
    else throw_no_dtype(c.name, x.dtype());
  });
}

}  // namespace ds::cuda
