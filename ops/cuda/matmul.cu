// CUDA kernel of matmul: a (..., m, k) @ b (..., k, n) -> out (..., m, n), batch dims broadcast. The batch dims of
// each operand fold into one batch stride (0 where it broadcasts) when they can, else the operand is copied; then
// cuBLASLt runs the product (cublaslt.cpp), or ds's own tiled kernel below where cuBLASLt is absent (cudasim),
// declines, or DS_CUDA_GEMM=simt asks for it.
#include <cstdlib>
#include <cstring>

#include <ds/ops/device_info.h>

#include "gemm.h"
#include "kernels.h"
#include "loops.cuh"

namespace ds::cuda {
namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kGemmThreads = 256;

template <typename T>
struct SimtParams {
  const T* a;
  const T* b;
  T* c;
  int64_t m, n, k, batch;
  int64_t a_rs, a_cs, a_bs, b_rs, b_cs, b_bs;
};

// A block computes a 64 x 64 tile of C, a thread 4 x 4 of it (rows ty + 16 i, columns tx + 16 j), over 16-wide
// slices of k staged in shared memory in the compute type. The slices are loaded along whichever of an operand's
// strides is 1, so that a row-major and a transposed operand both read coalesced.
template <typename T>
__global__ void __launch_bounds__(kGemmThreads) gemm_simt_kernel(SimtParams<T> p) {
  using A = compute_t<T>;
  __shared__ A as[kTileK][kTileM + 1];
  __shared__ A bs[kTileK][kTileN + 1];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kTileM, col0 = static_cast<int64_t>(blockIdx.y) * kTileN;
  const bool a_k_fast = p.a_cs == 1 || p.a_rs != 1, b_n_fast = p.b_cs == 1 || p.b_rs != 1;
  for (int64_t z = blockIdx.z; z < p.batch; z += gridDim.z) {
    const T* a = p.a + z * p.a_bs;
    const T* b = p.b + z * p.b_bs;
    A acc[4][4] = {};
    for (int64_t k0 = 0; k0 < p.k; k0 += kTileK) {
#pragma unroll
      for (int i = 0; i < kTileM * kTileK / kGemmThreads; ++i) {
        const int idx = tid + i * kGemmThreads;
        const int r = a_k_fast ? idx / kTileK : idx % kTileM, kk = a_k_fast ? idx % kTileK : idx / kTileM;
        const int64_t gr = row0 + r, gk = k0 + kk;
        as[kk][r] = gr < p.m && gk < p.k ? load(a + gr * p.a_rs + gk * p.a_cs) : A(0);
      }
#pragma unroll
      for (int i = 0; i < kTileK * kTileN / kGemmThreads; ++i) {
        const int idx = tid + i * kGemmThreads;
        const int cc = b_n_fast ? idx % kTileN : idx / kTileK, kk = b_n_fast ? idx / kTileN : idx % kTileK;
        const int64_t gc = col0 + cc, gk = k0 + kk;
        bs[kk][cc] = gc < p.n && gk < p.k ? load(b + gk * p.b_rs + gc * p.b_cs) : A(0);
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kTileK; ++kk) {
        A av[4], bv[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
      }
      __syncthreads();  // the slices are rewritten next
    }
    T* c = p.c + z * p.m * p.n;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t r = row0 + ty + 16 * i;
      if (r >= p.m) continue;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t col = col0 + tx + 16 * j;
        if (col < p.n) c[r * p.n + col] = cvt<T>(acc[i][j]);
      }
    }
  }
}

#if !DS_CUDASIM
bool simt_forced() {
  const char* v = std::getenv("DS_CUDA_GEMM");
  return v != nullptr && std::strcmp(v, "simt") == 0;
}
#endif

// t's batch dims as one stride over the output's flattened batch `batch` (0: broadcast), or -1 where they do not
// fold (e.g. broadcast over one dim but not another).
int64_t folded_batch_stride(const Tensor& t, IntArrayRef batch) {
  const int64_t tb = t.dim() - 2, off = static_cast<int64_t>(batch.size()) - tb;
  int64_t stride = -1, span = 1;  // stride of the innermost non-trivial batch dim; elements it spans so far
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
    if (batch[d] == 1) continue;
    const int64_t st = d >= off && t.size(d - off) != 1 ? t.stride(d - off) : 0;
    if (stride < 0) stride = st;
    else if (st != stride * span) return -1;
    span *= batch[d];
  }
  return stride < 0 ? 0 : stride;
}

// t expanded to the output's batch dims and copied contiguous, so that its batch folds.
Tensor contiguous_batch(const Tensor& t, IntArrayRef batch) {
  Shape shape(batch.begin(), batch.end());
  shape.push_back(t.size(-2));
  shape.push_back(t.size(-1));
  const Tensor dst(empty_base(shape, t.dtype(), t.device()));
  copy_into(t, dst);
  return dst;
}

}  // namespace

void gemm_simt(const GemmArgs& g, std::string_view op) {
  visit_float(g.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    const SimtParams<T> p{static_cast<const T*>(g.a.data), static_cast<const T*>(g.b.data), static_cast<T*>(g.c),
                          g.m, g.n, g.k, g.batch, g.a.row_stride, g.a.col_stride, g.a.batch_stride,
                          g.b.row_stride, g.b.col_stride, g.b.batch_stride};
    const dim3 grid(static_cast<unsigned>((g.m + kTileM - 1) / kTileM), static_cast<unsigned>((g.n + kTileN - 1) / kTileN),
                    static_cast<unsigned>(std::min<int64_t>(g.batch, 65535)));
    launch(op, gemm_simt_kernel<T>, grid, kGemmThreads, 0, g.stream, p);
  });
}

void matmul(const KernelCtx& c) {
  Tensor a = c.in[0], b = c.in[1];
  const Tensor& out = c.out[0];
  if (!is_floating(a.dtype())) throw_no_dtype(c.name, a.dtype());
  const int64_t nd = out.dim(), m = out.size(nd - 2), n = out.size(nd - 1), k = a.size(-1);
  if (out.numel() == 0) return;
  const int dev = out.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t stream = current_stream(dev);
  if (k == 0) {  // an empty sum: zeros
    DS_CUDA_CHECK(cudaMemsetAsync(out.data(), 0, out.numel() * out.element_size(), stream));
    return;
  }
  const Shape batch(out.sizes().begin(), out.sizes().end() - 2);
  int64_t nbatch = 1;
  for (int64_t s : batch) nbatch *= s;
  int64_t a_bs = folded_batch_stride(a, batch), b_bs = folded_batch_stride(b, batch);
  if (a_bs < 0) a = contiguous_batch(a, batch), a_bs = m * k;
  if (b_bs < 0) b = contiguous_batch(b, batch), b_bs = k * n;
  const auto operand = [](const Tensor& t, int64_t bs) {
    return GemmOperand{t.data(), t.stride(-2), t.stride(-1), bs};
  };
  GemmArgs g{a.dtype(), m, n, k, nbatch, operand(a, a_bs), operand(b, b_bs), out.data(), cuda_allow_tf32(), dev,
             stream};
#if !DS_CUDASIM
  if (!simt_forced()) {
    if (gemm_cublaslt(g, c.name)) return;
    // cuBLASLt reads a matrix along a unit stride: give it contiguous copies of the ones without.
    if (a.stride(-1) != 1 && a.stride(-2) != 1) a = contiguous_batch(a, batch), g.a = operand(a, m * k);
    if (b.stride(-1) != 1 && b.stride(-2) != 1) b = contiguous_batch(b, batch), g.b = operand(b, k * n);
    if (gemm_cublaslt(g, c.name)) return;
  }
#endif
  gemm_simt(g, c.name);
}

}  // namespace ds::cuda
