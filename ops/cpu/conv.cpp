// CPU kernels of the 2-d convolution family: conv2d, conv2d_input_grad, conv2d_weight_grad. im2col + GEMM over
// chunks of samples: the columns of nb samples side by side make one (K, nb*L) matrix, so the late layers of a
// network, whose images are 4x4 or 1x1, still get GEMMs with wide N instead of matrix-vector products. Depthwise
// convolutions (groups == C == O) take direct loops over the planes instead (see is_depthwise).
//   x: (N, C, H, W)   w: (O, C/groups, kh, kw)   y: (N, O, Ho, Wo)
#include <cstring>
#include <type_traits>
#include <vector>
#include <omp.h>

#include "gemm.h"
#include "helpers.h"
#include "kernels.h"
#include "parallel.h"

namespace ds::cpu {
namespace {

// The geometry the three ops share (Conv2dAttrs, Conv2dInputGradAttrs, Conv2dWeightGradAttrs): stride, padding,
// dilation (each (h, w)), groups, with the sizes of x, w and y.
struct Geo {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo;
  int64_t sh, sw, ph, pw, dh, dw, groups;
  int64_t Cg() const { return C / groups; }
  int64_t Og() const { return O / groups; }
  int64_t K() const { return Cg() * kh * kw; }
  int64_t L() const { return Ho * Wo; }
};

template <typename A>
Geo geometry(const A& a, const Shape& x, const Shape& w, const Shape& y) {
  const Shape &s = a.stride, &p = a.padding, &d = a.dilation;
  return Geo{x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3], s[0], s[1], p[0], p[1], d[0], d[1], a.groups};
}

// Samples per chunk: the column buffer stays under ~16 MB of floats.
int64_t chunk_samples(const Geo& g) {
  const int64_t per = std::max<int64_t>(1, g.K() * g.L());
  return std::clamp<int64_t>((int64_t{4} << 20) / per, 1, g.N);
}

// The valid output columns [lo, hi) of kernel column j: those whose input column lies inside [0, W).
inline void valid_range(int64_t j, int64_t stride, int64_t pad, int64_t dil, int64_t in, int64_t out, int64_t& lo,
                        int64_t& hi) {
  const int64_t off = j * dil - pad;  // input index = o * stride + off
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = in - off <= 0 ? 0 : std::min(out, (in - off - 1) / stride + 1);
  lo = std::min(lo, hi);
}

// cols[(c*kh + i)*kw + j][col0 + oh*Wo + ow] = x[c][oh*sh - ph + i*dh][ow*sw - pw + j*dw], 0 outside.
// x: one sample's group slice, (Cg, H, W) contiguous; rows of cols are `ld` apart. Rows [r0, r1) only.
template <typename T>
void im2col(const T* x, const Geo& g, T* cols, int64_t ld, int64_t col0, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / (g.kh * g.kw), i = r / g.kw % g.kh, j = r % g.kw;
    T* row = cols + r * ld + col0;
    int64_t lo, hi;
    valid_range(j, g.sw, g.pw, g.dw, g.W, g.Wo, lo, hi);
    const int64_t off_w = j * g.dw - g.pw;
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      T* dst = row + oh * g.Wo;
      const int64_t ih = oh * g.sh - g.ph + i * g.dh;
      if (ih < 0 || ih >= g.H) {
        std::memset(dst, 0, sizeof(T) * g.Wo);
        continue;
      }
      const T* src = x + (c * g.H + ih) * g.W + off_w;
      for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = T(0);
      if (g.sw == 1) std::memcpy(dst + lo, src + lo, sizeof(T) * (hi - lo));
      else
        for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.sw];
      for (int64_t ow = hi; ow < g.Wo; ++ow) dst[ow] = T(0);
    }
  }
}

// The adjoint of im2col: dx[c][ih][iw] += cols[...], for channels [c0, c1) of one sample's group slice.
template <typename T>
void col2im(const T* cols, const Geo& g, int64_t ld, int64_t col0, T* dx, int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = cols + ((c * g.kh + i) * g.kw + j) * ld + col0;
        int64_t lo, hi;
        valid_range(j, g.sw, g.pw, g.dw, g.W, g.Wo, lo, hi);
        const int64_t off_w = j * g.dw - g.pw;
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          T* dst = dx + (c * g.H + ih) * g.W + off_w;
          const T* src = row + oh * g.Wo;
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.sw] += src[ow];
        }
      }
}

// Columns of samples [n0, n0 + nb), group gi, into cols (K, nb*L).
template <typename T>
void gather_cols(const T* x, const Geo& g, int64_t n0, int64_t nb, int64_t gi, T* cols) {
  const int64_t K = g.K(), L = g.L(), ld = nb * L;
  parallel_for(nb * K, std::max<int64_t>(1, kGrain / std::max<int64_t>(L, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi;) {
      const int64_t b = t / K, r0 = t % K, r1 = std::min(K, r0 + (hi - t));
      im2col(x + ((n0 + b) * g.C + gi * g.Cg()) * g.H * g.W, g, cols, ld, b * L, r0, r1);
      t += r1 - r0;
    }
  });
}

// Moves between y's layout (N, O, L) and a chunk's (Og, nb*L) for group gi; to_chunk picks the direction.
template <typename T>
void shuffle_chunk(T* y, const Geo& g, int64_t n0, int64_t nb, int64_t gi, T* tmp, bool to_chunk) {
  const int64_t Og = g.Og(), L = g.L();
  parallel_for(nb * Og, std::max<int64_t>(1, kGrain / std::max<int64_t>(L, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t b = t / Og, o = t % Og;
      T* yp = y + ((n0 + b) * g.O + gi * Og + o) * L;
      T* tp = tmp + o * nb * L + b * L;
      if (to_chunk) std::memcpy(tp, yp, sizeof(T) * L);
      else std::memcpy(yp, tp, sizeof(T) * L);
    }
  });
}

Tensor dense(const Tensor& t) { return t.is_contiguous() ? t : contiguous_copy(t); }

// The scratch of a pass over the batch in chunks of samples: the columns (K, nb*L) and one group's outputs
// (Og, nb*L), both pooled tensors, of types Cols and Tmp (with bf16 operands, whichever holds the bf16 GEMM's
// result is float32).
template <typename Cols, typename Tmp = Cols>
struct Workspace {
  Workspace(const Geo& g, DType cols_dt, DType tmp_dt) : geo(g), nb_max(chunk_samples(g)) {
    cols_holder = Tensor(empty_base({std::max<int64_t>(g.K() * nb_max * g.L(), 1)}, cols_dt, kCPU));
    cols = static_cast<Cols*>(cols_holder.data());
    if (nb_max > 1) {
      tmp_holder = Tensor(empty_base({g.Og() * nb_max * g.L()}, tmp_dt, kCPU));
      tmp = static_cast<Tmp*>(tmp_holder.data());
    }
  }
  // f(n0, nb, gi) for every chunk [n0, n0 + nb) of samples and every group gi.
  template <typename F>
  void each_chunk(F&& f) const {
    for (int64_t n0 = 0; n0 < geo.N; n0 += nb_max)
      for (int64_t gi = 0; gi < geo.groups; ++gi) f(n0, std::min(nb_max, geo.N - n0), gi);
  }
  // The (Og, nb*L) block of y (N, O, L) for group gi: y itself for one sample, gathered into tmp otherwise.
  const Tmp* gather_outputs(Tmp* y, int64_t n0, int64_t nb, int64_t gi) {
    if (nb == 1) return y + (n0 * geo.O + gi * geo.Og()) * geo.L();
    shuffle_chunk(y, geo, n0, nb, gi, tmp, true);
    return tmp;
  }

  const Geo& geo;
  int64_t nb_max;
  Tensor cols_holder, tmp_holder;
  Cols* cols = nullptr;
  Tmp* tmp = nullptr;
};

// The GEMM for the operands' type: float32 and float64, or bf16 operands into float32 (vdpbf16ps, gemm.h).
template <typename T, typename Out>
void gemm_of(int64_t m, int64_t n, int64_t k, MatRef<const T> a, MatRef<const T> b, MatRef<Out> c, bool accumulate,
             int threads = omp_get_max_threads()) {
  if constexpr (std::is_same_v<T, BFloat16>) gemm_bf16(m, n, k, a, b, c, accumulate, threads);
  else gemm(m, n, k, a, b, c, accumulate, threads);
}

// ---- Depthwise (groups == C == O): direct loops over (n, c) planes instead of one tiny GEMM per channel, from
// benchmarks/kernels/depthwise_conv2d.cpp. Each plane is copied into (or accumulated in) a zero-padded per-thread
// buffer, so no kernel tap is ever clipped (variant v3). With stride 1 the padded plane is read as one flat vector
// (variant v4): output (oh, ow) sits at q = oh*Wp + ow of a "wide" output with rows Wp long, and tap (i, j) reads
// pad[q + i*dh*Wp + j*dw], so each tap is one vectorised loop of Q = (Ho-1)*Wp + Wo instead of Ho loops of Wo (the
// win on 4x4 planes; the weight grad takes it on small planes only); the Wp - Wo junk columns of each wide row are
// dropped, or kept zero where they are read.
// w: (C, 1, kh, kw).

bool is_depthwise(const Geo& g) { return g.groups > 1 && g.groups == g.C && g.O == g.C; }

// Per-thread scratch: the (H + 2ph, W + 2pw) padded plane and the Q-long wide row block, both zero at first.
template <typename T>
struct Planes {
  explicit Planes(const Geo& g)
      : Wp(g.W + 2 * g.pw), Q((g.Ho - 1) * Wp + g.Wo), flat(g.sh == 1 && g.sw == 1),
        pad(static_cast<size_t>((g.H + 2 * g.ph) * Wp), T(0)), wide(flat ? static_cast<size_t>(Q) : 0, T(0)) {}
  T* at(int64_t h, int64_t w) { return pad.data() + h * Wp + w; }  // padded coordinates
  void load(const Geo& g, const T* plane) {
    for (int64_t h = 0; h < g.H; ++h) std::memcpy(at(h + g.ph, g.pw), plane + h * g.W, sizeof(T) * g.W);
  }
  void store(const Geo& g, T* plane) {
    for (int64_t h = 0; h < g.H; ++h) std::memcpy(plane + h * g.W, at(h + g.ph, g.pw), sizeof(T) * g.W);
  }
  // A (Ho, Wo) plane into the wide rows; the gap columns stay zero.
  void widen(const Geo& g, const T* plane) {
    for (int64_t oh = 0; oh < g.Ho; ++oh) std::memcpy(wide.data() + oh * Wp, plane + oh * g.Wo, sizeof(T) * g.Wo);
  }
  int64_t Wp, Q;
  bool flat;
  std::vector<T> pad, wide;
};

template <typename T>
void depthwise_forward(const T* x, const T* w, T* y, const Geo& g) {
  const int64_t L = g.L(), taps = g.kh * g.kw;
  parallel_for(g.N * g.C, std::max<int64_t>(1, kGrain / std::max<int64_t>(L * taps, 1)), [&](int64_t lo, int64_t hi) {
    Planes<T> s(g);
    for (int64_t pl = lo; pl < hi; ++pl) {
      s.load(g, x + pl * g.H * g.W);
      const T* wp = w + pl % g.C * taps;
      T* yp = y + pl * L;
      if (s.flat) {
        T* o = s.wide.data();
        std::fill(o, o + s.Q, T(0));
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) {
            const T wv = wp[i * g.kw + j];
            const T* xr = s.at(i * g.dh, j * g.dw);
            for (int64_t q = 0; q < s.Q; ++q) o[q] += wv * xr[q];
          }
        for (int64_t oh = 0; oh < g.Ho; ++oh) std::memcpy(yp + oh * g.Wo, o + oh * s.Wp, sizeof(T) * g.Wo);
        continue;
      }
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        T* yr = yp + oh * g.Wo;
        std::fill(yr, yr + g.Wo, T(0));
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) {
            const T wv = wp[i * g.kw + j];
            const T* xr = s.at(oh * g.sh + i * g.dh, j * g.dw);
            for (int64_t ow = 0; ow < g.Wo; ++ow) yr[ow] += wv * xr[ow * g.sw];
          }
      }
    }
  });
}

// The transposed loop: gy scattered into the padded dx plane, whose interior is then copied out.
template <typename T>
void depthwise_input_grad(const T* gy, const T* w, T* dx, const Geo& g) {
  const int64_t L = g.L(), taps = g.kh * g.kw;
  parallel_for(g.N * g.C, std::max<int64_t>(1, kGrain / std::max<int64_t>(L * taps, 1)), [&](int64_t lo, int64_t hi) {
    Planes<T> s(g);
    for (int64_t pl = lo; pl < hi; ++pl) {
      std::fill(s.pad.begin(), s.pad.end(), T(0));
      const T* wp = w + pl % g.C * taps;
      const T* gp = gy + pl * L;
      if (s.flat) {
        s.widen(g, gp);
        const T* gw = s.wide.data();
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) {
            const T wv = wp[i * g.kw + j];
            T* d = s.at(i * g.dh, j * g.dw);
            for (int64_t q = 0; q < s.Q; ++q) d[q] += wv * gw[q];
          }
      } else {
        for (int64_t oh = 0; oh < g.Ho; ++oh)
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j) {
              const T wv = wp[i * g.kw + j];
              T* d = s.at(oh * g.sh + i * g.dh, j * g.dw);
              const T* gr = gp + oh * g.Wo;
              for (int64_t ow = 0; ow < g.Wo; ++ow) d[ow * g.sw] += wv * gr[ow];
            }
      }
      s.store(g, dx + pl * g.H * g.W);
    }
  });
}

// dw[c][i][j] = sum over n, oh, ow of gy[n][c][oh][ow] * x[n][c][oh*sh - ph + i*dh][ow*sw - pw + j*dw]. Channels run
// in parallel; within one, every tap keeps a row of accumulators (elementwise, so it vectorises) summed at the end:
// the order depends on the shape only, never on the thread count. The rows are Wo long (v3), or Q long (v4) only for
// rows of at most 8 outputs: kh*kw rows of Q no longer fit L1 on larger planes (lab: v4 1.6x slower than v3 at
// 32x32, 2x faster at 4x4).
template <typename T>
void depthwise_weight_grad(const T* x, const T* gy, T* dw, const Geo& g) {
  const int64_t L = g.L(), taps = g.kh * g.kw;
  parallel_for(g.C, std::max<int64_t>(1, kGrain / std::max<int64_t>(g.N * L * taps, 1)), [&](int64_t lo, int64_t hi) {
    Planes<T> s(g);
    const bool flat = s.flat && g.Wo <= 8;
    const int64_t len = flat ? s.Q : g.Wo;
    std::vector<T> acc(static_cast<size_t>(taps * len));
    for (int64_t c = lo; c < hi; ++c) {
      std::fill(acc.begin(), acc.end(), T(0));
      for (int64_t n = 0; n < g.N; ++n) {
        s.load(g, x + (n * g.C + c) * g.H * g.W);
        const T* gp = gy + (n * g.C + c) * L;
        if (flat) {
          s.widen(g, gp);
          const T* gw = s.wide.data();
          for (int64_t t = 0; t < taps; ++t) {
            T* a = acc.data() + t * len;
            const T* xr = s.at(t / g.kw * g.dh, t % g.kw * g.dw);
            for (int64_t q = 0; q < len; ++q) a[q] += gw[q] * xr[q];
          }
          continue;
        }
        for (int64_t oh = 0; oh < g.Ho; ++oh)
          for (int64_t t = 0; t < taps; ++t) {
            T* a = acc.data() + t * len;
            const T* xr = s.at(oh * g.sh + t / g.kw * g.dh, t % g.kw * g.dw);
            const T* gr = gp + oh * g.Wo;
            for (int64_t ow = 0; ow < g.Wo; ++ow) a[ow] += gr[ow] * xr[ow * g.sw];
          }
      }
      for (int64_t t = 0; t < taps; ++t) {
        T sum = 0;
        for (int64_t q = 0; q < len; ++q) sum += acc[t * len + q];
        dw[c * taps + t] = sum;
      }
    }
  });
}

// y (of type Out: float32 for bf16 x and w) = conv(x, w).
template <typename T, typename Out = T>
void forward(const Tensor& x_, const Tensor& w_, const Tensor& y, const Geo& g) {
  const Tensor x = dense(x_), w = dense(w_);
  const T* px = static_cast<const T*>(x.data());
  const T* pw = static_cast<const T*>(w.data());
  Out* py = static_cast<Out*>(y.data());
  if constexpr (std::is_same_v<T, Out>)
    if (is_depthwise(g)) return depthwise_forward(px, pw, py, g);
  const int64_t K = g.K(), L = g.L(), Og = g.Og();
  Workspace<T, Out> ws(g, x.dtype(), y.dtype());
  ws.each_chunk([&](int64_t n0, int64_t nb, int64_t gi) {
    gather_cols(px, g, n0, nb, gi, ws.cols);
    const MatRef<const T> a{pw + gi * Og * K, K, 1}, b{ws.cols, nb * L, 1};
    if (nb == 1) {
      gemm_of(Og, L, K, a, b, MatRef<Out>{py + (n0 * g.O + gi * Og) * L, L, 1}, false);
    } else {
      gemm_of(Og, nb * L, K, a, b, MatRef<Out>{ws.tmp, nb * L, 1}, false);
      shuffle_chunk(py, g, n0, nb, gi, ws.tmp, false);
    }
  });
}

// dx (of type Out: float32 for bf16 gy and w) = conv's input gradient.
template <typename T, typename Out = T>
void input_grad(const Tensor& gy_, const Tensor& w_, const Tensor& dx, const Geo& g) {
  const Tensor gy = dense(gy_), w = dense(w_);
  T* pgy = static_cast<T*>(const_cast<void*>(gy.data()));
  const T* pw = static_cast<const T*>(w.data());
  Out* pdx = static_cast<Out*>(dx.data());
  if constexpr (std::is_same_v<T, Out>)
    if (is_depthwise(g)) return depthwise_input_grad(static_cast<const T*>(pgy), pw, pdx, g);
  std::memset(pdx, 0, sizeof(Out) * dx.numel());
  const int64_t K = g.K(), L = g.L(), Og = g.Og(), Cg = g.Cg();
  Workspace<Out, T> ws(g, dx.dtype(), gy.dtype());
  ws.each_chunk([&](int64_t n0, int64_t nb, int64_t gi) {
    // cols (K, nb*L) = w_g^T (K, Og) @ gy chunk (Og, nb*L)
    gemm_of(K, nb * L, Og, MatRef<const T>{pw + gi * Og * K, 1, K},
            MatRef<const T>{ws.gather_outputs(pgy, n0, nb, gi), nb * L, 1}, MatRef<Out>{ws.cols, nb * L, 1}, false);
    parallel_for(nb * Cg, std::max<int64_t>(1, kGrain / std::max<int64_t>(g.kh * g.kw * L, 1)),
                 [&](int64_t lo, int64_t hi) {
                   for (int64_t t = lo; t < hi;) {
                     const int64_t s = t / Cg, c0 = t % Cg, c1 = std::min(Cg, c0 + (hi - t));
                     col2im(ws.cols, g, nb * L, s * L, pdx + ((n0 + s) * g.C + gi * Cg) * g.H * g.W, c0, c1);
                     t += c1 - c0;
                   }
                 });
  });
}

// Parts the samples are split into for a small weight gradient (split_weight_grad); 0: one GEMM over the batch.
// The choice and the parts depend on the shape only, so the sums' order does not depend on the thread count.
int64_t weight_grad_parts(const Geo& g) {
  if (g.groups != 1 || g.N < 2 || g.O * g.K() > 4096) return 0;
  return std::min<int64_t>(g.N, 8);
}

// A weight gradient small against its reduction (LeNet's first layer: 6 x 25 summed over 64 x 784 columns; the
// 3-channel stem of ResNet: 64 x 27 over 32 x 1024): one GEMM would run on one or two tiles of C, so on one
// thread, packing a long B. Instead each part of the samples gets its partial gradient on one thread (its own
// columns, in steps of at most ~1M elements, one GEMM each), and the partials are summed in the parts' order.
template <typename T, typename Out>
void split_weight_grad(const T* px, T* pgy, Out* pdw, const Geo& g, int64_t parts, DType dt) {
  const int64_t K = g.K(), L = g.L(), O = g.O, size = O * K;
  const int64_t step = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(K * L, 1));
  std::vector<Out> partial(static_cast<size_t>(parts * size));
  // Each thread's columns and gathered gradient, allocated before the parallel region (which must not throw).
  const int64_t most = std::min(step, (g.N + parts - 1) / parts);
  std::vector<Tensor> cols, tmps;
  for (int64_t t = 0; t < std::min<int64_t>(omp_get_max_threads(), parts); ++t) {
    cols.emplace_back(empty_base({K * most * L}, dt, kCPU));
    tmps.emplace_back(empty_base({O * most * L}, dt, kCPU));
  }
  const int level = omp_get_level();  // inside an outer parallel region, parallel_for runs here, on this thread
  parallel_for(parts, 1, [&](int64_t lo, int64_t hi) {
    const auto t = static_cast<size_t>(omp_get_level() > level ? omp_get_thread_num() : 0);
    T* c = static_cast<T*>(cols[t].data());
    T* y = static_cast<T*>(tmps[t].data());
    for (int64_t p = lo; p < hi; ++p) {
      const int64_t first = g.N * p / parts, last = g.N * (p + 1) / parts;
      for (int64_t n0 = first; n0 < last; n0 += step) {
        const int64_t nb = std::min(step, last - n0);
        gather_cols(px, g, n0, nb, 0, c);  // (inside a parallel region: these run on this thread)
        shuffle_chunk(pgy, g, n0, nb, 0, y, true);
        gemm_of(O, K, nb * L, MatRef<const T>{y, nb * L, 1}, MatRef<const T>{c, 1, nb * L},
                MatRef<Out>{partial.data() + p * size, K, 1}, n0 > first, 1);
      }
    }
  });
  for (int64_t e = 0; e < size; ++e) {
    Out sum = partial[static_cast<size_t>(e)];
    for (int64_t p = 1; p < parts; ++p) sum += partial[static_cast<size_t>(p * size + e)];
    pdw[e] = sum;
  }
}

// dw (of type Out: float32 for bf16 x and gy) = conv's weight gradient.
template <typename T, typename Out = T>
void weight_grad(const Tensor& x_, const Tensor& gy_, const Tensor& dw, const Geo& g) {
  const Tensor x = dense(x_), gy = dense(gy_);
  const T* px = static_cast<const T*>(x.data());
  T* pgy = static_cast<T*>(const_cast<void*>(gy.data()));
  Out* pdw = static_cast<Out*>(dw.data());
  if constexpr (std::is_same_v<T, Out>)
    if (is_depthwise(g)) return depthwise_weight_grad(px, static_cast<const T*>(pgy), pdw, g);
  if (const int64_t parts = weight_grad_parts(g)) return split_weight_grad(px, pgy, pdw, g, parts, x.dtype());
  const int64_t K = g.K(), L = g.L(), Og = g.Og();
  Workspace<T> ws(g, x.dtype(), gy.dtype());
  ws.each_chunk([&](int64_t n0, int64_t nb, int64_t gi) {
    gather_cols(px, g, n0, nb, gi, ws.cols);
    // dw_g (Og, K) += gy chunk (Og, nb*L) @ cols^T (nb*L, K)
    gemm_of(Og, K, nb * L, MatRef<const T>{ws.gather_outputs(pgy, n0, nb, gi), nb * L, 1},
            MatRef<const T>{ws.cols, 1, nb * L}, MatRef<Out>{pdw + gi * Og * K, K, 1}, n0 > 0);
  });
}

// Runs f<T> for f32 and f64. 16-bit floats are widened to f32 and the result narrowed, except bf16 operands on a CPU
// with AVX512_BF16 (not depthwise): f<bf16, f32> keeps them bf16 for the vdpbf16ps GEMM and narrows its result.
template <template <typename, typename> class F>
void dispatch_float(const KernelCtx& c, const Geo& g) {
  const Tensor &a = c.in[0], &b = c.in[1];
  const Tensor& out = c.out[0];
  switch (a.dtype()) {
    case DType::f32: return F<float, float>::run(a, b, out, g);
    case DType::f64: return F<double, double>::run(a, b, out, g);
    case DType::f16:
    case DType::bf16: {
      const Tensor wide(empty_base(out.sizes(), kF32, kCPU));
      if (a.dtype() == kBF16 && b.dtype() == kBF16 && !is_depthwise(g) && gemm_bf16_available())
        F<BFloat16, float>::run(a, b, wide, g);
      else
        F<float, float>::run(contiguous_copy(a, kF32), contiguous_copy(b, kF32), wide, g);
      const Tensor in[1] = {wide};
      Tensor outs[1] = {out};
      const Attrs attrs = CopyAttrs{.dtype = out.dtype()};
      return copy(KernelCtx{OpId::copy, "copy", in, outs, attrs});
    }
    case DType::i64: case DType::i32: case DType::i8: case DType::u8: case DType::b8: break;
  }
  throw_error(c.name, std::string("has no CPU kernel for dtype ") + std::string(dtype_name(a.dtype())));
}

template <typename T, typename Out> struct Forward {
  static void run(const Tensor& x, const Tensor& w, const Tensor& y, const Geo& g) { forward<T, Out>(x, w, y, g); }
};
template <typename T, typename Out> struct InputGrad {
  static void run(const Tensor& gy, const Tensor& w, const Tensor& dx, const Geo& g) {
    input_grad<T, Out>(gy, w, dx, g);
  }
};
template <typename T, typename Out> struct WeightGrad {
  static void run(const Tensor& x, const Tensor& gy, const Tensor& dw, const Geo& g) {
    weight_grad<T, Out>(x, gy, dw, g);
  }
};

}  // namespace

void conv2d(const KernelCtx& c) {
  dispatch_float<Forward>(c, geometry(c.attrs.get<Conv2dAttrs>(), c.in[0].sizes(), c.in[1].sizes(), c.out[0].sizes()));
}
void conv2d_input_grad(const KernelCtx& c) {  // in: gy, w; out: dx
  const auto& a = c.attrs.get<Conv2dInputGradAttrs>();
  dispatch_float<InputGrad>(c, geometry(a, c.out[0].sizes(), c.in[1].sizes(), c.in[0].sizes()));
}
void conv2d_weight_grad(const KernelCtx& c) {  // in: x, gy; out: dw
  const auto& a = c.attrs.get<Conv2dWeightGradAttrs>();
  dispatch_float<WeightGrad>(c, geometry(a, c.in[0].sizes(), c.out[0].sizes(), c.in[1].sizes()));
}

}  // namespace ds::cpu
