// CPU kernel of max_pool2d: x (N, C, H, W) -> values (N, C, Ho, Wo), indices (N, C, Ho, Wo) int64 into each H*W
// plane (torch's convention). A NaN in a window wins, as in torch. Planes run in parallel.
#include <cmath>
#include <limits>

#include "helpers.h"
#include "kernels.h"
#include "parallel.h"

namespace ds::cpu {
namespace {

template <typename T>
void max_pool(const Tensor& x_, const Tensor& y, const Tensor& idx, const Attrs& a) {
  const Tensor x = x_.is_contiguous() ? x_ : contiguous_copy(x_);
  const Shape &k = a.ints(0), &s = a.ints(1), &p = a.ints(2), &d = a.ints(3);
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
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          T best = -std::numeric_limits<T>::infinity();
          int64_t at = -1;
          for (int64_t i = 0; i < k[0]; ++i) {
            const int64_t ih = oh * s[0] - p[0] + i * d[0];
            if (ih < 0 || ih >= H) continue;
            for (int64_t j = 0; j < k[1]; ++j) {
              const int64_t iw = ow * s[1] - p[1] + j * d[1];
              if (iw < 0 || iw >= W) continue;
              const T v = in[ih * W + iw];
              if (at < 0 || v > best || std::isnan(v)) {
                best = v;
                at = ih * W + iw;
                if (std::isnan(v)) goto done;
              }
            }
          }
        done:
          out[oh * Wo + ow] = best;
          ind[oh * Wo + ow] = at;
        }
    }
  });
}

}  // namespace

void max_pool2d(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  switch (x.dtype()) {
    case DType::f32: return max_pool<float>(x, c.out[0], c.out[1], c.attrs);
    case DType::f64: return max_pool<double>(x, c.out[0], c.out[1], c.attrs);
    case DType::f16: case DType::bf16: case DType::i64: case DType::i32: case DType::i8: case DType::u8:
    case DType::b8: break;
  }
  throw_error(c.name, std::string("has no CPU kernel for dtype ") + std::string(dtype_name(x.dtype())));
}

}  // namespace ds::cpu
