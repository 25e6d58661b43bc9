// CPU kernels of layer_norm and layer_norm_backward. x: (M, N) rows (a contiguous copy when strided), weight and
// bias: (N). Rows run in parallel; dweight and dbias are summed per fixed block of rows and the blocks added in order,
// so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "helpers.h"
#include "kernels.h"
#include "parallel.h"

namespace ds::cpu {
namespace {

constexpr int64_t kRowsPerBlock = 32;

template <typename T>
void forward(const KernelCtx& c) {
  const Tensor x = c.in[0].is_contiguous() ? c.in[0] : contiguous_copy(c.in[0]);
  const Tensor w = contiguous_copy(c.in[1]), b = contiguous_copy(c.in[2]);
  const int64_t N = w.numel(), M = N ? x.numel() / N : 0;
  const T eps = static_cast<T>(c.attrs.get<LayerNormAttrs>().eps);
  const T *px = static_cast<const T*>(x.data()), *pw = static_cast<const T*>(w.data()), *pb = static_cast<const T*>(b.data());
  T *py = static_cast<T*>(c.out[0].data()), *pm = static_cast<T*>(c.out[1].data()), *pr = static_cast<T*>(c.out[2].data());
  parallel_for(M, std::max<int64_t>(1, kGrain / std::max<int64_t>(N, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T* xi = px + i * N;
      T s = 0;
      for (int64_t j = 0; j < N; ++j) s += xi[j];
      const T mu = s / static_cast<T>(N);
      T v = 0;  // two passes: the variance of centred values does not cancel
      for (int64_t j = 0; j < N; ++j) v += (xi[j] - mu) * (xi[j] - mu);
      const T rstd = T(1) / std::sqrt(v / static_cast<T>(N) + eps);
      T* yi = py + i * N;
      for (int64_t j = 0; j < N; ++j) yi[j] = (xi[j] - mu) * rstd * pw[j] + pb[j];
      pm[i] = mu;
      pr[i] = rstd;
    }
  });
}

// dx = rstd * (g w - mean(g w) - xhat * mean(g w xhat)), dweight = sum_rows g xhat, dbias = sum_rows g.
template <typename T>
void backward(const KernelCtx& c) {
  const Tensor g = contiguous_copy(c.in[0]), x = contiguous_copy(c.in[1]), w = contiguous_copy(c.in[2]);
  const Tensor mean = contiguous_copy(c.in[3]), rstd = contiguous_copy(c.in[4]);
  const int64_t N = w.numel(), M = N ? x.numel() / N : 0;
  const T *pg = static_cast<const T*>(g.data()), *px = static_cast<const T*>(x.data()), *pw = static_cast<const T*>(w.data());
  const T *pm = static_cast<const T*>(mean.data()), *pr = static_cast<const T*>(rstd.data());
  T *dx = static_cast<T*>(c.out[0].data()), *dw = static_cast<T*>(c.out[1].data()), *db = static_cast<T*>(c.out[2].data());
  const int64_t blocks = (M + kRowsPerBlock - 1) / kRowsPerBlock;
  std::vector<T> part(static_cast<size_t>(std::max<int64_t>(blocks, 1) * 2 * N), T(0));  // per block: dw, db
  parallel_for(blocks, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> xhat(static_cast<size_t>(N)), gw(static_cast<size_t>(N));
    for (int64_t blk = lo; blk < hi; ++blk) {
      T* pdw = part.data() + blk * 2 * N;
      T* pdb = pdw + N;
      for (int64_t i = blk * kRowsPerBlock; i < std::min(M, (blk + 1) * kRowsPerBlock); ++i) {
        const T *xi = px + i * N, *gi = pg + i * N;
        const T mu = pm[i], r = pr[i];
        T s1 = 0, s2 = 0;
        for (int64_t j = 0; j < N; ++j) {
          xhat[j] = (xi[j] - mu) * r;
          gw[j] = gi[j] * pw[j];
          s1 += gw[j];
          s2 += gw[j] * xhat[j];
          pdw[j] += gi[j] * xhat[j];
          pdb[j] += gi[j];
        }
        const T m1 = s1 / static_cast<T>(N), m2 = s2 / static_cast<T>(N);
        T* dxi = dx + i * N;
        for (int64_t j = 0; j < N; ++j) dxi[j] = r * (gw[j] - m1 - xhat[j] * m2);
      }
    }
  });
  std::fill(dw, dw + N, T(0));
  std::fill(db, db + N, T(0));
  for (int64_t blk = 0; blk < blocks; ++blk)
    for (int64_t j = 0; j < N; ++j) {
      dw[j] += part[static_cast<size_t>(blk * 2 * N + j)];
      db[j] += part[static_cast<size_t>(blk * 2 * N + N + j)];
    }
}

}  // namespace

void layer_norm(const KernelCtx& c) {
  if (c.in[0].dtype() == kF64) forward<double>(c);
  else forward<float>(c);
}

void layer_norm_backward(const KernelCtx& c) {
  if (c.in[1].dtype() == kF64) backward<double>(c);
  else backward<float>(c);
}

}  // namespace ds::cpu
