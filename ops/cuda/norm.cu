// CUDA kernels of layer_norm and layer_norm_backward (f32, f64; autocast keeps norms in f32), with the CPU kernels'
// definitions (ops/cpu/layer_norm.cpp). x is (M, N) rows (a contiguous copy when strided), a block per row: mean,
// then the variance of the centred values (two passes, as on the CPU), then y. The backward computes dx per row the
// same way, and dweight / dbias as column sums over row chunks, the chunks added in a fixed order: no atomics, the
// same bits on every run.
#include <algorithm>

#include "block_reduce.cuh"
#include "kernels.h"
#include "loops.cuh"
#include "math.cuh"

namespace ds::cuda {
namespace {

template <typename T>
__global__ void __launch_bounds__(kRowThreads) layer_norm_kernel(const T* x, const T* w, const T* b, T* y, T* mean,
                                                                 T* rstd, int64_t N, T eps) {
  __shared__ T scratch[kRowThreads / 32];
  const int64_t row = blockIdx.x;
  const T* xr = x + row * N;
  T s = 0;
  for (int64_t j = threadIdx.x; j < N; j += kRowThreads) s += xr[j];
  const T mu = block_reduce(s, scratch, SumOp{}) / static_cast<T>(N);
  T v = 0;
  for (int64_t j = threadIdx.x; j < N; j += kRowThreads) {
    const T d = xr[j] - mu;
    v += d * d;
  }
  const T r = T(1) / m::sqrt(block_reduce(v, scratch, SumOp{}) / static_cast<T>(N) + eps);
  T* yr = y + row * N;
  for (int64_t j = threadIdx.x; j < N; j += kRowThreads) yr[j] = (xr[j] - mu) * r * w[j] + b[j];
  if (threadIdx.x == 0) {
    mean[row] = mu;
    rstd[row] = r;
  }
}

// dx = rstd * (g w - mean(g w) - xhat * mean(g w xhat))
template <typename T>
__global__ void __launch_bounds__(kRowThreads) layer_norm_dx_kernel(const T* g, const T* x, const T* w, const T* mean,
                                                                    const T* rstd, T* dx, int64_t N) {
  __shared__ T scratch[kRowThreads / 32];
  const int64_t row = blockIdx.x;
  const T *gr = g + row * N, *xr = x + row * N;
  const T mu = mean[row], r = rstd[row];
  T s1 = 0, s2 = 0;
  for (int64_t j = threadIdx.x; j < N; j += kRowThreads) {
    const T gw = gr[j] * w[j];
    s1 += gw;
    s2 += gw * (xr[j] - mu) * r;
  }
  const T m1 = block_reduce(s1, scratch, SumOp{}) / static_cast<T>(N);
  const T m2 = block_reduce(s2, scratch, SumOp{}) / static_cast<T>(N);
  T* dr = dx + row * N;
  for (int64_t j = threadIdx.x; j < N; j += kRowThreads) dr[j] = r * (gr[j] * w[j] - m1 - (xr[j] - mu) * r * m2);
}

constexpr int kColParts = 8;

// partial[s][j] = sum over the rows of chunk s of g * xhat (dw) and of g (db); threadIdx.x over 32 columns,
// threadIdx.y over contiguous parts of the chunk, combined in order.
template <typename T>
__global__ void __launch_bounds__(32 * kColParts) layer_norm_dwdb_kernel(const T* g, const T* x, const T* mean,
                                                                         const T* rstd, T* partial, int64_t M,
                                                                         int64_t N, int64_t chunk) {
  __shared__ T sdw[kColParts][32], sdb[kColParts][32];
  const int64_t j = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  const int64_t begin = blockIdx.y * chunk, end = dmin(M, begin + chunk);
  const int64_t part = (end - begin + kColParts - 1) / kColParts;
  const int64_t r0 = begin + threadIdx.y * part, r1 = dmin(end, r0 + part);
  T dw = 0, db = 0;
  if (j < N)
    for (int64_t i = r0; i < r1; ++i) {
      const T gi = g[i * N + j];
      dw += gi * (x[i * N + j] - mean[i]) * rstd[i];
      db += gi;
    }
  sdw[threadIdx.y][threadIdx.x] = dw;
  sdb[threadIdx.y][threadIdx.x] = db;
  __syncthreads();
  if (threadIdx.y != 0 || j >= N) return;
  for (int y = 1; y < kColParts; ++y) {
    dw += sdw[y][threadIdx.x];
    db += sdb[y][threadIdx.x];
  }
  T* out = partial + static_cast<int64_t>(blockIdx.y) * 2 * N;
  out[j] = dw;
  out[N + j] = db;
}

template <typename T>
__global__ void layer_norm_dwdb_sum_kernel(const T* partial, int splits, int64_t N, T* dw, T* db) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= N) return;
  T a = 0, b = 0;
  for (int s = 0; s < splits; ++s) {
    a += partial[s * 2 * N + j];
    b += partial[s * 2 * N + N + j];
  }
  dw[j] = a;
  db[j] = b;
}

template <typename F>
void visit_norm_dtype(const KernelCtx& c, DType t, F&& f) {
  if (t == kF32) return f(float{});
  if (t == kF64) return f(double{});
  throw_no_dtype(c.name, t);
}

}  // namespace

// x (..., normalized), weight, bias -> y, mean (rows), rstd (rows). LayerNormAttrs: eps
void layer_norm(const KernelCtx& c) {
  const Tensor x = contiguous_copy(c.in[0]), w = contiguous_copy(c.in[1]), b = contiguous_copy(c.in[2]);
  const int64_t N = w.numel(), M = N ? x.numel() / N : 0;
  if (M == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  visit_norm_dtype(c, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch(c.name, layer_norm_kernel<T>, static_cast<unsigned>(M), kRowThreads, 0, current_stream(dev),
           static_cast<const T*>(x.data()), static_cast<const T*>(w.data()), static_cast<const T*>(b.data()),
           static_cast<T*>(c.out[0].data()), static_cast<T*>(c.out[1].data()), static_cast<T*>(c.out[2].data()), N,
           static_cast<T>(c.attrs.get<LayerNormAttrs>().eps));
  });
}

// g, x, weight, mean, rstd -> dx, dweight, dbias
void layer_norm_backward(const KernelCtx& c) {
  const Tensor g = contiguous_copy(c.in[0]), x = contiguous_copy(c.in[1]), w = contiguous_copy(c.in[2]);
  const Tensor mean = contiguous_copy(c.in[3]), rstd = contiguous_copy(c.in[4]);
  const int64_t N = w.numel(), M = N ? x.numel() / N : 0;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t stream = current_stream(dev);
  visit_norm_dtype(c, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T *dw = static_cast<T*>(c.out[1].data()), *db = static_cast<T*>(c.out[2].data());
    if (N == 0) return;
    if (M == 0) {
      DS_CUDA_CHECK(cudaMemsetAsync(dw, 0, N * sizeof(T), stream));
      DS_CUDA_CHECK(cudaMemsetAsync(db, 0, N * sizeof(T), stream));
      return;
    }
    const T *pg = static_cast<const T*>(g.data()), *px = static_cast<const T*>(x.data());
    const T *pm = static_cast<const T*>(mean.data()), *pr = static_cast<const T*>(rstd.data());
    launch(c.name, layer_norm_dx_kernel<T>, static_cast<unsigned>(M), kRowThreads, 0, stream, pg, px,
           static_cast<const T*>(w.data()), pm, pr, static_cast<T*>(c.out[0].data()), N);
    const int splits = static_cast<int>(std::clamp<int64_t>((M + 127) / 128, 1, 256));
    const int64_t chunk = (M + splits - 1) / splits;
    const Tensor partial(empty_base({2 * splits * N}, x.dtype(), x.device()));
    launch(c.name, layer_norm_dwdb_kernel<T>, dim3(static_cast<unsigned>((N + 31) / 32), static_cast<unsigned>(splits)),
           dim3(32, kColParts), 0, stream, pg, px, pm, pr, static_cast<T*>(partial.data()), M, N, chunk);
    launch(c.name, layer_norm_dwdb_sum_kernel<T>, blocks_for(N, 256), 256, 0, stream,
           static_cast<const T*>(partial.data()), splits, N, dw, db);
  });
}

}  // namespace ds::cuda
