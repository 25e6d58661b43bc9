// CUDA kernels of the 2-d convolution family (conv2d, conv2d_input_grad, conv2d_weight_grad) and of max_pool2d,
// with the CPU kernels' definitions (ops/cpu/conv.cpp, ops/cpu/pool.cpp). These are the direct reference kernels:
// a thread per output element of conv2d and of the input gradient, a warp per weight-gradient element (its sum runs
// over every sample and output pixel); every dtype, 16-bit floats computed in float, no atomics. cuDNN 9 is the
// planned fast path for the float convolutions.
//   x: (N, C, H, W)   w: (O, C/groups, kh, kw)   y: (N, O, Ho, Wo)
#include "block_reduce.cuh"
#include "kernels.h"
#include "loops.cuh"

namespace ds::cuda {
namespace {

constexpr int kThreads = 256;

// The geometry the three share (Conv2dAttrs, Conv2dInputGradAttrs, Conv2dWeightGradAttrs): stride, padding,
// dilation (each (h, w)), groups, with the sizes of x, w and y.
struct Geo {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo;
  int64_t sh, sw, ph, pw, dh, dw, groups;
  __host__ __device__ int64_t Cg() const { return C / groups; }
  __host__ __device__ int64_t Og() const { return O / groups; }
};

template <typename A>
Geo geometry(const A& a, const Shape& x, const Shape& w, const Shape& y) {
  const Shape &s = a.stride, &p = a.padding, &d = a.dilation;
  return Geo{x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3], s[0], s[1], p[0], p[1], d[0], d[1], a.groups};
}

// y[n, o, ho, wo] = sum over c of o's group, i, j of x[n, c, ho sh - ph + i dh, wo sw - pw + j dw] w[o, c, i, j]
template <typename S>
__global__ void conv2d_kernel(const S* x, const S* w, S* y, Geo g, int64_t total) {
  using A = compute_t<S>;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= total) return;
  const int64_t wo = t % g.Wo, ho = (t / g.Wo) % g.Ho, o = (t / (g.Wo * g.Ho)) % g.O, n = t / (g.Wo * g.Ho * g.O);
  const int64_t c0 = (o / g.Og()) * g.Cg();
  A acc = 0;
  for (int64_t c = 0; c < g.Cg(); ++c) {
    const S* xp = x + ((n * g.C + c0 + c) * g.H) * g.W;
    const S* wp = w + ((o * g.Cg() + c) * g.kh) * g.kw;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t h = ho * g.sh - g.ph + i * g.dh;
      if (h < 0 || h >= g.H) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t ww = wo * g.sw - g.pw + j * g.dw;
        if (ww >= 0 && ww < g.W) acc += load(xp + h * g.W + ww) * load(wp + i * g.kw + j);
      }
    }
  }
  y[t] = cvt<S>(acc);
}

// dx[n, c, h, ww] = sum over o of c's group, i, j with h = ho sh - ph + i dh (and likewise ww) of gy[n, o, ho, wo]
// w[o, c, i, j]
template <typename S>
__global__ void conv2d_input_grad_kernel(const S* gy, const S* w, S* dx, Geo g, int64_t total) {
  using A = compute_t<S>;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= total) return;
  const int64_t ww = t % g.W, h = (t / g.W) % g.H, c = (t / (g.W * g.H)) % g.C, n = t / (g.W * g.H * g.C);
  const int64_t grp = c / g.Cg(), cl = c % g.Cg();
  A acc = 0;
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t hn = h + g.ph - i * g.dh;  // = ho * sh
    if (hn < 0 || hn % g.sh != 0 || hn / g.sh >= g.Ho) continue;
    const int64_t ho = hn / g.sh;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t wn = ww + g.pw - j * g.dw;
      if (wn < 0 || wn % g.sw != 0 || wn / g.sw >= g.Wo) continue;
      const int64_t wo = wn / g.sw;
      for (int64_t ol = 0; ol < g.Og(); ++ol) {
        const int64_t o = grp * g.Og() + ol;
        acc += load(gy + ((n * g.O + o) * g.Ho + ho) * g.Wo + wo) * load(w + ((o * g.Cg() + cl) * g.kh + i) * g.kw + j);
      }
    }
  }
  dx[t] = cvt<S>(acc);
}

// dw[o, c, i, j] = sum over n, ho, wo of gy[n, o, ho, wo] x[n, c of o's group, ho sh - ph + i dh, wo sw - pw + j dw]:
// a warp per element, lanes over (n, ho, wo).
template <typename S>
__global__ void __launch_bounds__(kThreads) conv2d_weight_grad_kernel(const S* x, const S* gy, S* dw, Geo g,
                                                                      int64_t total) {
  using A = compute_t<S>;
  const int lane = threadIdx.x % 32;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32;
  if (t >= total) return;
  const int64_t j = t % g.kw, i = (t / g.kw) % g.kh, cl = (t / (g.kw * g.kh)) % g.Cg(), o = t / (g.kw * g.kh * g.Cg());
  const int64_t c = (o / g.Og()) * g.Cg() + cl;
  A acc = 0;
  const int64_t L = g.Ho * g.Wo;
  for (int64_t e = lane; e < g.N * L; e += 32) {
    const int64_t n = e / L, ho = (e % L) / g.Wo, wo = e % g.Wo;
    const int64_t h = ho * g.sh - g.ph + i * g.dh, ww = wo * g.sw - g.pw + j * g.dw;
    if (h >= 0 && h < g.H && ww >= 0 && ww < g.W)
      acc += load(gy + ((n * g.O + o) * g.Ho + ho) * g.Wo + wo) * load(x + ((n * g.C + c) * g.H + h) * g.W + ww);
  }
  acc = warp_reduce(acc, SumOp{});
  if (lane == 0) dw[t] = cvt<S>(acc);
}

// A thread per output: the first maximum of the window (NaN wins and ends it), its index into the H*W plane.
struct PoolGeo {
  int64_t H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
};
template <typename S>
__global__ void max_pool2d_kernel(const S* x, S* y, int64_t* idx, PoolGeo g, int64_t total) {
  using A = compute_t<S>;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= total) return;
  const int64_t ow = t % g.Wo, oh = (t / g.Wo) % g.Ho, plane = t / (g.Wo * g.Ho);
  const S* in = x + plane * g.H * g.W;
  const int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  A best = -INFINITY;
  int64_t at = -1;
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t h = h0 + i * g.dh;
    if (h < 0 || h >= g.H) continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t w = w0 + j * g.dw;
      if (w < 0 || w >= g.W) continue;
      const A v = load(in + h * g.W + w);
      if (at < 0 || !(v <= best)) {
        best = v;
        at = h * g.W + w;
        if (v != v) goto done;
      }
    }
  }
done:
  y[t] = cvt<S>(best);
  idx[t] = at;
}

template <typename Launch>
void run(const KernelCtx& c, const Tensor& out, Launch&& go) {
  if (out.numel() == 0) return;
  const int dev = out.device().index;
  DeviceGuard guard(dev);
  visit_float(out.dtype(), c.name, [&](auto tag) { go(tag, current_stream(dev)); });
}

}  // namespace

void conv2d(const KernelCtx& c) {  // in: x, w; out: y
  const Tensor x = contiguous_copy(c.in[0]), w = contiguous_copy(c.in[1]);
  const Tensor& y = c.out[0];
  const Geo g = geometry(c.attrs.get<Conv2dAttrs>(), x.sizes(), w.sizes(), y.sizes());
  run(c, y, [&](auto tag, cudaStream_t stream) {
    using S = decltype(tag);
    launch(c.name, conv2d_kernel<S>, blocks_for(y.numel(), kThreads), kThreads, 0, stream,
           static_cast<const S*>(x.data()), static_cast<const S*>(w.data()), static_cast<S*>(y.data()), g, y.numel());
  });
}

void conv2d_input_grad(const KernelCtx& c) {  // in: gy, w; out: dx
  const Tensor gy = contiguous_copy(c.in[0]), w = contiguous_copy(c.in[1]);
  const Tensor& dx = c.out[0];
  const Geo g = geometry(c.attrs.get<Conv2dInputGradAttrs>(), dx.sizes(), w.sizes(), gy.sizes());
  run(c, dx, [&](auto tag, cudaStream_t stream) {
    using S = decltype(tag);
    launch(c.name, conv2d_input_grad_kernel<S>, blocks_for(dx.numel(), kThreads), kThreads, 0, stream,
           static_cast<const S*>(gy.data()), static_cast<const S*>(w.data()), static_cast<S*>(dx.data()), g,
           dx.numel());
  });
}

void conv2d_weight_grad(const KernelCtx& c) {  // in: x, gy; out: dw
  const Tensor x = contiguous_copy(c.in[0]), gy = contiguous_copy(c.in[1]);
  const Tensor& dw = c.out[0];
  const Geo g = geometry(c.attrs.get<Conv2dWeightGradAttrs>(), x.sizes(), dw.sizes(), gy.sizes());
  run(c, dw, [&](auto tag, cudaStream_t stream) {
    using S = decltype(tag);
    launch(c.name, conv2d_weight_grad_kernel<S>, static_cast<unsigned>((dw.numel() + kThreads / 32 - 1) / (kThreads / 32)),
           kThreads, 0, stream, static_cast<const S*>(x.data()), static_cast<const S*>(gy.data()),
           static_cast<S*>(dw.data()), g, dw.numel());
  });
}

// x (N, C, H, W) -> values, indices (N, C, Ho, Wo). attrs: MaxPool2dAttrs
void max_pool2d(const KernelCtx& c) {
  const Tensor x = contiguous_copy(c.in[0]);
  const Tensor& y = c.out[0];
  const auto& a = c.attrs.get<MaxPool2dAttrs>();
  const Shape &k = a.kernel_size, &s = a.stride, &p = a.padding, &d = a.dilation;
  const PoolGeo g{x.size(2), x.size(3), y.size(2), y.size(3), k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1]};
  run(c, y, [&](auto tag, cudaStream_t stream) {
    using S = decltype(tag);
    launch(c.name, max_pool2d_kernel<S>, blocks_for(y.numel(), kThreads), kThreads, 0, stream,
           static_cast<const S*>(x.data()), static_cast<S*>(y.data()), static_cast<int64_t*>(c.out[1].data()), g,
           y.numel());
  });
}

}  // namespace ds::cuda
