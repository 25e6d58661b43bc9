// CPU kernel of max_pool2d: x (N, C, H, W) -> values (N, C, Ho, Wo), indices (N, C, Ho, Wo) int64 into each H*W
// plane (torch's convention). A NaN in a window wins, as in torch. Planes run in parallel.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "helpers.h"
#include "kernels.h"
#include "parallel.h"

namespace ds::cpu {
namespace {

// 1 when v replaces the running max `best` (v > best, or v NaN while best is not), updating best; 0 otherwise.
// Written with SSE compares and a blend because GCC turns the plain C++ into a branch, which mispredicts half the
// time on random data (measured: 2x slower on LeNet's pools).
inline int64_t replaces(float v, float& best) {
  const __m128 vv = _mm_set_ss(v), bb = _mm_set_ss(best);
  const __m128 m = _mm_and_ps(_mm_cmp_ss(vv, bb, _CMP_NLE_UQ), _mm_cmp_ss(bb, bb, _CMP_ORD_Q));
  best = _mm_cvtss_f32(_mm_blendv_ps(bb, vv, m));
  return _mm_movemask_ps(m) & 1;
}
inline int64_t replaces(double v, double& best) {
  const __m128d vv = _mm_set_sd(v), bb = _mm_set_sd(best);
  const __m128d m = _mm_and_pd(_mm_cmp_sd(vv, bb, _CMP_NLE_UQ), _mm_cmp_sd(bb, bb, _CMP_ORD_Q));
  best = _mm_cvtsd_f64(_mm_blendv_pd(bb, vv, m));
  return _mm_movemask_pd(m) & 1;
}

// One plane without dilation (the common case): windows clipped with min/max, no division, and a branchless
// update. A window's first valid element seeds the max; later ones replace it when greater or NaN, while the max
// is not yet NaN, so the first NaN wins as in torch. Every window holds at least one element (the rule's padding
// limit of k/2 guarantees it).
template <typename T>
void window_max_dense(const T* in, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int64_t kh, int64_t kw, int64_t sh,
                      int64_t sw, int64_t ph, int64_t pw, T* out, int64_t* ind) {
  for (int64_t oh = 0; oh < Ho; ++oh) {
    const int64_t h0 = oh * sh - ph, i_lo = std::max<int64_t>(h0, 0), i_hi = std::min(h0 + kh, H);
    for (int64_t ow = 0; ow < Wo; ++ow) {
      const int64_t w0 = ow * sw - pw, j_lo = std::max<int64_t>(w0, 0), j_hi = std::min(w0 + kw, W);
      int64_t at = i_lo * W + j_lo;
      T best = in[at];
      for (int64_t i = i_lo; i < i_hi; ++i)
        for (int64_t j = j_lo; j < j_hi; ++j) {
          const int64_t pos = i * W + j;
          const int64_t take = replaces(in[pos], best);
          at += (pos - at) * take;
        }
      out[oh * Wo + ow] = best;
      ind[oh * Wo + ow] = at;
    }
  }
}

template <typename T>
void max_pool(const Tensor& x_, const Tensor& y, const Tensor& idx, const MaxPool2dAttrs& a) {
  const Tensor x = x_.is_contiguous() ? x_ : contiguous_copy(x_);
  const Shape &k = a.kernel_size, &s = a.stride, &p = a.padding, &d = a.dilation;
  const int64_t H = x.size(2), W = x.size(3), Ho = y.size(2), Wo = y.size(3);
  const T* px = static_cast<const T*>(x.data());
  T* py = static_cast<T*>(y.data());
  int64_t* pi = static_cast<int64_t*>(idx.data());
  parallel_for(x.size(0) * x.size(1), std::max<int64_t>(1, kGrain / std::max<int64_t>(Ho * Wo * k[0] * k[1], 1)),
               [&](int64_t lo, int64_t hi) {
    for (int64_t plane = lo; plane < hi; ++plane) {
      const T* in = px + plane * H * W;
      T* out = py + plane * Ho * Wo;
      int64_t* ind = pi + plane * Ho * Wo;
      if (d[0] == 1 && d[1] == 1) {
        window_max_dense(in, H, W, Ho, Wo, k[0], k[1], s[0], s[1], p[0], p[1], out, ind);
        continue;
      }
      for (int64_t oh = 0; oh < Ho; ++oh) {
        // The window's rows and columns clipped to the input once, outside the element loop (dilation d).
        const int64_t h0 = oh * s[0] - p[0];
        const int64_t i_lo = h0 >= 0 ? 0 : (-h0 + d[0] - 1) / d[0];
        const int64_t i_hi = std::min(k[0], (H - h0 + d[0] - 1) / d[0]);
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const int64_t w0 = ow * s[1] - p[1];
          const int64_t j_lo = w0 >= 0 ? 0 : (-w0 + d[1] - 1) / d[1];
          const int64_t j_hi = std::min(k[1], (W - w0 + d[1] - 1) / d[1]);
          T best = -std::numeric_limits<T>::infinity();
          int64_t at = -1;
          for (int64_t i = i_lo; i < i_hi; ++i) {
            const int64_t row = (h0 + i * d[0]) * W;
            for (int64_t j = j_lo; j < j_hi; ++j) {
              const int64_t pos = row + w0 + j * d[1];
              const T v = in[pos];
              // !(v <= best) is v > best or v NaN: a NaN wins and ends the window, as in torch.
              if (at < 0 || !(v <= best)) {
                best = v;
                at = pos;
                if (v != v) goto done;
              }
            }
          }
        done:
          out[oh * Wo + ow] = best;
          ind[oh * Wo + ow] = at;
        }
      }
    }
  });
}

}  // namespace

void max_pool2d(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  const auto& a = c.attrs.get<MaxPool2dAttrs>();
  switch (x.dtype()) {
    case DType::f32: return max_pool<float>(x, c.out[0], c.out[1], a);
    case DType::f64: return max_pool<double>(x, c.out[0], c.out[1], a);
    case DType::f16: case DType::bf16: case DType::i64: case DType::i32: case DType::i8: case DType::u8:
    case DType::b8: break;
  }
  throw_error(c.name, std::string("has no CPU kernel for dtype ") + std::string(dtype_name(x.dtype())));
}

}  // namespace ds::cpu
