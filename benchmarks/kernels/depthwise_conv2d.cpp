// Kernel lab for the CPU depthwise conv2d (groups == C == O; STYLE.md rule 6): forward, input grad and weight grad.
// The reference is the kernel in ops/cpu/conv.cpp through ds::conv2d and the conv2d_input_grad / conv2d_weight_grad
// ops (before the depthwise path, that was im2col + one tiny GEMM per channel). main() draws random inputs (printed,
// replayable seed), checks every variant against the reference (tolerance scaled by f32 epsilon and the number of
// summed products, guard values after the outputs), then times each on MobileNetV2's depthwise shapes, one and two
// threads.
//   x: (N, C, H, W)   w: (C, 1, kh, kw)   y: (N, C, Ho, Wo)
//
// Measured (seed 1, 2-core dev box, quiet, us at 1 / 2 threads; "before" is the im2col + per-channel GEMM path):
//   shape                  pass  before       after (ops/cpu/conv.cpp)   torch 2.15, 2 threads
//   (4,32,32,32) k3 s1     fwd   1039 / 919   208 / 105  (v4)            196
//                          dx     851 / 1157  297 / 155  (v4)            fwd+dx+dw 736
//                          dw    1323 / 1844  195 / 113  (v3)
//   (4,96,32,32) k3 s2     fwd   1209 / 1012  435 / 341  (v3)            235
//                          dx    1060 / 1071  535 / 478  (v3)            fwd+dx+dw 3561
//                          dw    1926 / 1670  472 / 333  (v3)
//   (4,144,16,16) k3 s1    fwd    989 / 987   163 / 132  (v4)            198
//                          dx     849 / 826   195 / 192  (v4)            fwd+dx+dw 721
//                          dw    1735 / 1730  360 / 302  (v3)
//   (4,960,4,4) k3 s1      fwd   1301 / 1280  264 / 221  (v4)            148
//                          dx     858 / 849   373 / 251  (v4)            fwd+dx+dw 606
//                          dw    1511 / 1557  363 / 302  (v4)
// The ref rows include ds's op dispatch and output allocation, which the variants' rows do not; two runs minutes
// apart differ by up to 1.5x on this box. MobileNetV2 training step, batch 4 at 64x64, 2 threads: 86 ms before,
// 48-50 ms after, torch 58-66 ms. What is left: the 16x16 and stride-2 shapes barely gain from a second thread, and
// the 4x4 planes are still 1.5x slower than torch (per-plane overhead: 9 loops of 22 per plane; a channels-inner
// layout would vectorise across planes).
//
//   depthwise_conv2d_lab [--seed S] [--reps R]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <ds/ds.h>

namespace {

struct Geo {
  int64_t N, C, H, W, k, s, p, d, Ho, Wo;
};
// out = f(a, b): forward (x, w) -> y, input grad (gy, w) -> dx, weight grad (x, gy) -> dw.
using Fn = void (*)(const float* a, const float* b, float* out, const Geo& g);

// The output columns [lo, hi) whose input column o*s + j*d - p lies inside [0, in).
inline void valid_range(int64_t j, const Geo& g, int64_t in, int64_t out, int64_t& lo, int64_t& hi) {
  const int64_t off = j * g.d - g.p;
  lo = off >= 0 ? 0 : (-off + g.s - 1) / g.s;
  hi = in - off <= 0 ? 0 : std::min(out, (in - off - 1) / g.s + 1);
  lo = std::min(lo, hi);
}

// ---- forward ----

// v1: a direct loop per output element, bounds checked per tap.
void fwd_v1(const float* x, const float* w, float* y, const Geo& g) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < g.N * g.C; ++pl) {
    const float* xp = x + pl * g.H * g.W;
    const float* wp = w + (pl % g.C) * g.k * g.k;
    float* yp = y + pl * g.Ho * g.Wo;
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        float s = 0;
        for (int64_t i = 0; i < g.k; ++i)
          for (int64_t j = 0; j < g.k; ++j) {
            const int64_t ih = oh * g.s - g.p + i * g.d, iw = ow * g.s - g.p + j * g.d;
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) s += xp[ih * g.W + iw] * wp[i * g.k + j];
          }
        yp[oh * g.Wo + ow] = s;
      }
  }
}

// v2: per output row, taps outer and output columns inner over the tap's valid range (clipped once per tap), so
// the inner loop is y[ow] += w * x[ow*s + off]: contiguous and vectorised for stride 1.
void fwd_v2(const float* x, const float* w, float* y, const Geo& g) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < g.N * g.C; ++pl) {
    const float* xp = x + pl * g.H * g.W;
    const float* wp = w + (pl % g.C) * g.k * g.k;
    float* yp = y + pl * g.Ho * g.Wo;
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      float* yr = yp + oh * g.Wo;
      std::fill(yr, yr + g.Wo, 0.f);
      for (int64_t i = 0; i < g.k; ++i) {
        const int64_t ih = oh * g.s - g.p + i * g.d;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t j = 0; j < g.k; ++j) {
          int64_t lo, hi;
          valid_range(j, g, g.W, g.Wo, lo, hi);
          const float wv = wp[i * g.k + j];
          const float* xr = xp + ih * g.W + j * g.d - g.p;
          if (g.s == 1)
            for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow];
          else
            for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow * g.s];
        }
      }
    }
  }
}

// v3: v2 on a zero-padded copy of the plane (one per thread), so no tap is clipped: every inner loop runs the full
// Wo. Costs a copy of the plane; pays only where clipping is a large share (4x4 planes).
void fwd_v3(const float* x, const float* w, float* y, const Geo& g) {
  const int64_t Hp = g.H + 2 * g.p, Wp = g.W + 2 * g.p;
#pragma omp parallel
  {
    std::vector<float> pad(Hp * Wp, 0.f);
#pragma omp for schedule(static)
    for (int64_t pl = 0; pl < g.N * g.C; ++pl) {
      const float* xp = x + pl * g.H * g.W;
      for (int64_t h = 0; h < g.H; ++h) std::memcpy(&pad[(h + g.p) * Wp + g.p], xp + h * g.W, sizeof(float) * g.W);
      const float* wp = w + (pl % g.C) * g.k * g.k;
      float* yp = y + pl * g.Ho * g.Wo;
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        float* yr = yp + oh * g.Wo;
        std::fill(yr, yr + g.Wo, 0.f);
        for (int64_t i = 0; i < g.k; ++i)
          for (int64_t j = 0; j < g.k; ++j) {
            const float wv = wp[i * g.k + j];
            const float* xr = pad.data() + (oh * g.s + i * g.d) * Wp + j * g.d;
            if (g.s == 1)
              for (int64_t ow = 0; ow < g.Wo; ++ow) yr[ow] += wv * xr[ow];
            else
              for (int64_t ow = 0; ow < g.Wo; ++ow) yr[ow] += wv * xr[ow * g.s];
          }
      }
    }
  }
}

// v4: stride 1 only (else v3): the padded plane read as one flat vector. Output (oh, ow) sits at q = oh*Wp + ow of
// a "wide" output whose rows are Wp long, and every tap reads pad[q + i*d*Wp + j*d]: one loop of (Ho-1)*Wp + Wo per
// tap instead of Ho loops of Wo, which pays on 4x4 planes; the Wp - Wo junk columns are dropped when rows are
// copied out.
void fwd_v4(const float* x, const float* w, float* y, const Geo& g) {
  if (g.s != 1) return fwd_v3(x, w, y, g);
  const int64_t Hp = g.H + 2 * g.p, Wp = g.W + 2 * g.p, Q = (g.Ho - 1) * Wp + g.Wo;
#pragma omp parallel
  {
    std::vector<float> pad(Hp * Wp, 0.f), wide(Q);
#pragma omp for schedule(static)
    for (int64_t pl = 0; pl < g.N * g.C; ++pl) {
      const float* xp = x + pl * g.H * g.W;
      for (int64_t h = 0; h < g.H; ++h) std::memcpy(&pad[(h + g.p) * Wp + g.p], xp + h * g.W, sizeof(float) * g.W);
      const float* wp = w + (pl % g.C) * g.k * g.k;
      float* o = wide.data();
      std::fill(o, o + Q, 0.f);
      for (int64_t i = 0; i < g.k; ++i)
        for (int64_t j = 0; j < g.k; ++j) {
          const float wv = wp[i * g.k + j];
          const float* xr = pad.data() + i * g.d * Wp + j * g.d;
          for (int64_t q = 0; q < Q; ++q) o[q] += wv * xr[q];
        }
      float* yp = y + pl * g.Ho * g.Wo;
      for (int64_t oh = 0; oh < g.Ho; ++oh) std::memcpy(yp + oh * g.Wo, o + oh * Wp, sizeof(float) * g.Wo);
    }
  }
}

// ---- input grad: dx[ih][iw] = sum over (oh, ow, i, j) hitting it of w[i][j] * gy[oh][ow] ----

// v1: the scatter of v1's forward, per output element and tap, bounds checked.
void in_v1(const float* gy, const float* w, float* dx, const Geo& g) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < g.N * g.C; ++pl) {
    const float* gp = gy + pl * g.Ho * g.Wo;
    const float* wp = w + (pl % g.C) * g.k * g.k;
    float* dp = dx + pl * g.H * g.W;
    std::fill(dp, dp + g.H * g.W, 0.f);
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow)
        for (int64_t i = 0; i < g.k; ++i)
          for (int64_t j = 0; j < g.k; ++j) {
            const int64_t ih = oh * g.s - g.p + i * g.d, iw = ow * g.s - g.p + j * g.d;
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) dp[ih * g.W + iw] += gp[oh * g.Wo + ow] * wp[i * g.k + j];
          }
  }
}

// v2: v2's forward transposed: per gy row and tap, dx row[ow*s + off] += w * gy row[ow] over the valid range.
void in_v2(const float* gy, const float* w, float* dx, const Geo& g) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < g.N * g.C; ++pl) {
    const float* gp = gy + pl * g.Ho * g.Wo;
    const float* wp = w + (pl % g.C) * g.k * g.k;
    float* dp = dx + pl * g.H * g.W;
    std::fill(dp, dp + g.H * g.W, 0.f);
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      const float* gr = gp + oh * g.Wo;
      for (int64_t i = 0; i < g.k; ++i) {
        const int64_t ih = oh * g.s - g.p + i * g.d;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t j = 0; j < g.k; ++j) {
          int64_t lo, hi;
          valid_range(j, g, g.W, g.Wo, lo, hi);
          const float wv = wp[i * g.k + j];
          float* dr = dp + ih * g.W + j * g.d - g.p;
          if (g.s == 1)
            for (int64_t ow = lo; ow < hi; ++ow) dr[ow] += wv * gr[ow];
          else
            for (int64_t ow = lo; ow < hi; ++ow) dr[ow * g.s] += wv * gr[ow];
        }
      }
    }
  }
}

// v3: in v2's order, into a zero-padded dx plane (one per thread) so no tap is clipped; the interior is copied out.
void in_v3(const float* gy, const float* w, float* dx, const Geo& g) {
  const int64_t Hp = g.H + 2 * g.p, Wp = g.W + 2 * g.p;
#pragma omp parallel
  {
    std::vector<float> pad(Hp * Wp);
#pragma omp for schedule(static)
    for (int64_t pl = 0; pl < g.N * g.C; ++pl) {
      const float* gp = gy + pl * g.Ho * g.Wo;
      const float* wp = w + (pl % g.C) * g.k * g.k;
      std::fill(pad.begin(), pad.end(), 0.f);
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        const float* gr = gp + oh * g.Wo;
        for (int64_t i = 0; i < g.k; ++i)
          for (int64_t j = 0; j < g.k; ++j) {
            const float wv = wp[i * g.k + j];
            float* dr = pad.data() + (oh * g.s + i * g.d) * Wp + j * g.d;
            if (g.s == 1)
              for (int64_t ow = 0; ow < g.Wo; ++ow) dr[ow] += wv * gr[ow];
            else
              for (int64_t ow = 0; ow < g.Wo; ++ow) dr[ow * g.s] += wv * gr[ow];
          }
      }
      float* dp = dx + pl * g.H * g.W;
      for (int64_t h = 0; h < g.H; ++h) std::memcpy(dp + h * g.W, &pad[(h + g.p) * Wp + g.p], sizeof(float) * g.W);
    }
  }
}

// v4: stride 1 only (else v3): v3 with fwd v4's flat rows; gy is spread into Wp-long rows whose extra columns are
// zero, so the flat loops add nothing outside the plane's true contributions.
void in_v4(const float* gy, const float* w, float* dx, const Geo& g) {
  if (g.s != 1) return in_v3(gy, w, dx, g);
  const int64_t Hp = g.H + 2 * g.p, Wp = g.W + 2 * g.p, Q = (g.Ho - 1) * Wp + g.Wo;
#pragma omp parallel
  {
    std::vector<float> pad(Hp * Wp), wide(Q, 0.f);
#pragma omp for schedule(static)
    for (int64_t pl = 0; pl < g.N * g.C; ++pl) {
      const float* gp = gy + pl * g.Ho * g.Wo;
      for (int64_t oh = 0; oh < g.Ho; ++oh) std::memcpy(&wide[oh * Wp], gp + oh * g.Wo, sizeof(float) * g.Wo);
      const float* wp = w + (pl % g.C) * g.k * g.k;
      std::fill(pad.begin(), pad.end(), 0.f);
      for (int64_t i = 0; i < g.k; ++i)
        for (int64_t j = 0; j < g.k; ++j) {
          const float wv = wp[i * g.k + j];
          float* dr = pad.data() + i * g.d * Wp + j * g.d;
          for (int64_t q = 0; q < Q; ++q) dr[q] += wv * wide[q];
        }
      float* dp = dx + pl * g.H * g.W;
      for (int64_t h = 0; h < g.H; ++h) std::memcpy(dp + h * g.W, &pad[(h + g.p) * Wp + g.p], sizeof(float) * g.W);
    }
  }
}

// ---- weight grad: dw[c][i][j] = sum over n, oh, ow of gy[n][c][oh][ow] * x[n][c][ih][iw] ----

// v1: one scalar accumulator per (c, tap), bounds checked per product; channels in parallel, n in order.
void wg_v1(const float* x, const float* gy, float* dw, const Geo& g) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.k; ++i)
      for (int64_t j = 0; j < g.k; ++j) {
        float s = 0;
        for (int64_t n = 0; n < g.N; ++n) {
          const float* xp = x + (n * g.C + c) * g.H * g.W;
          const float* gp = gy + (n * g.C + c) * g.Ho * g.Wo;
          for (int64_t oh = 0; oh < g.Ho; ++oh)
            for (int64_t ow = 0; ow < g.Wo; ++ow) {
              const int64_t ih = oh * g.s - g.p + i * g.d, iw = ow * g.s - g.p + j * g.d;
              if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) s += gp[oh * g.Wo + ow] * xp[ih * g.W + iw];
            }
        }
        dw[(c * g.k + i) * g.k + j] = s;
      }
}

// v2: per (c, tap) a row of Wo accumulators, acc[ow] += gy row[ow] * x row[ow*s + off] over the clipped range (an
// elementwise loop, so it vectorises without reassociating a reduction), summed in a fixed order at the end. The
// order depends only on the shape, never on the thread count.
void wg_v2(const float* x, const float* gy, float* dw, const Geo& g) {
#pragma omp parallel
  {
    std::vector<float> acc(g.k * g.k * g.Wo);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < g.C; ++c) {
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t n = 0; n < g.N; ++n) {
        const float* xp = x + (n * g.C + c) * g.H * g.W;
        const float* gp = gy + (n * g.C + c) * g.Ho * g.Wo;
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const float* gr = gp + oh * g.Wo;
          for (int64_t i = 0; i < g.k; ++i) {
            const int64_t ih = oh * g.s - g.p + i * g.d;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t j = 0; j < g.k; ++j) {
              int64_t lo, hi;
              valid_range(j, g, g.W, g.Wo, lo, hi);
              float* a = acc.data() + (i * g.k + j) * g.Wo;
              const float* xr = xp + ih * g.W + j * g.d - g.p;
              if (g.s == 1)
                for (int64_t ow = lo; ow < hi; ++ow) a[ow] += gr[ow] * xr[ow];
              else
                for (int64_t ow = lo; ow < hi; ++ow) a[ow] += gr[ow] * xr[ow * g.s];
            }
          }
        }
      }
      for (int64_t t = 0; t < g.k * g.k; ++t) {
        float s = 0;
        for (int64_t ow = 0; ow < g.Wo; ++ow) s += acc[t * g.Wo + ow];
        dw[c * g.k * g.k + t] = s;
      }
    }
  }
}

// v3: v2's accumulator rows over a zero-padded copy of each x plane, so no tap is clipped.
void wg_v3(const float* x, const float* gy, float* dw, const Geo& g) {
  const int64_t Hp = g.H + 2 * g.p, Wp = g.W + 2 * g.p;
#pragma omp parallel
  {
    std::vector<float> acc(g.k * g.k * g.Wo), pad(Hp * Wp, 0.f);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < g.C; ++c) {
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t n = 0; n < g.N; ++n) {
        const float* xp = x + (n * g.C + c) * g.H * g.W;
        for (int64_t h = 0; h < g.H; ++h) std::memcpy(&pad[(h + g.p) * Wp + g.p], xp + h * g.W, sizeof(float) * g.W);
        const float* gp = gy + (n * g.C + c) * g.Ho * g.Wo;
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const float* gr = gp + oh * g.Wo;
          for (int64_t i = 0; i < g.k; ++i)
            for (int64_t j = 0; j < g.k; ++j) {
              float* a = acc.data() + (i * g.k + j) * g.Wo;
              const float* xr = pad.data() + (oh * g.s + i * g.d) * Wp + j * g.d;
              if (g.s == 1)
                for (int64_t ow = 0; ow < g.Wo; ++ow) a[ow] += gr[ow] * xr[ow];
              else
                for (int64_t ow = 0; ow < g.Wo; ++ow) a[ow] += gr[ow] * xr[ow * g.s];
            }
        }
      }
      for (int64_t t = 0; t < g.k * g.k; ++t) {
        float s = 0;
        for (int64_t ow = 0; ow < g.Wo; ++ow) s += acc[t * g.Wo + ow];
        dw[c * g.k * g.k + t] = s;
      }
    }
  }
}

// v4: stride 1 only (else v3): v3 with flat rows; acc per tap is Q long, gy spread into zero-gapped Wp-long rows.
void wg_v4(const float* x, const float* gy, float* dw, const Geo& g) {
  if (g.s != 1) return wg_v3(x, gy, dw, g);
  const int64_t Hp = g.H + 2 * g.p, Wp = g.W + 2 * g.p, Q = (g.Ho - 1) * Wp + g.Wo, T = g.k * g.k;
#pragma omp parallel
  {
    std::vector<float> acc(T * Q), pad(Hp * Wp, 0.f), wide(Q, 0.f);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < g.C; ++c) {
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t n = 0; n < g.N; ++n) {
        const float* xp = x + (n * g.C + c) * g.H * g.W;
        for (int64_t h = 0; h < g.H; ++h) std::memcpy(&pad[(h + g.p) * Wp + g.p], xp + h * g.W, sizeof(float) * g.W);
        const float* gp = gy + (n * g.C + c) * g.Ho * g.Wo;
        for (int64_t oh = 0; oh < g.Ho; ++oh) std::memcpy(&wide[oh * Wp], gp + oh * g.Wo, sizeof(float) * g.Wo);
        for (int64_t i = 0; i < g.k; ++i)
          for (int64_t j = 0; j < g.k; ++j) {
            float* a = acc.data() + (i * g.k + j) * Q;
            const float* xr = pad.data() + i * g.d * Wp + j * g.d;
            for (int64_t q = 0; q < Q; ++q) a[q] += wide[q] * xr[q];
          }
      }
      for (int64_t t = 0; t < T; ++t) {
        float s = 0;
        for (int64_t q = 0; q < Q; ++q) s += acc[t * Q + q];
        dw[c * T + t] = s;
      }
    }
  }
}

struct Variant {
  const char* pass;  // fwd, dx, dw
  const char* name;
  const char* idea;
  Fn fn;
};
const Variant kVariants[] = {
    {"fwd", "v1", "direct loop per output, bounds checked per tap", fwd_v1},
    {"fwd", "v2", "per row: taps outer, clipped output range inner, vectorised for stride 1", fwd_v2},
    {"fwd", "v3", "v2 on a zero-padded plane copy, no clipping (ops/cpu/conv.cpp, stride > 1)", fwd_v3},
    {"fwd", "v4", "stride 1: padded plane as one flat vector, one loop per tap (ops/cpu/conv.cpp, stride 1)", fwd_v4},
    {"dx", "v1", "scatter per output and tap, bounds checked", in_v1},
    {"dx", "v2", "fwd v2 transposed: dx row += w * gy row per tap", in_v2},
    {"dx", "v3", "v2 into a zero-padded dx plane, interior copied out (ops/cpu/conv.cpp, stride > 1)", in_v3},
    {"dx", "v4", "stride 1: v3 with flat loops over a zero-gapped gy (ops/cpu/conv.cpp, stride 1)", in_v4},
    {"dw", "v1", "scalar accumulator per (c, tap), bounds checked", wg_v1},
    {"dw", "v2", "per (c, tap) a row of Wo accumulators, summed at the end", wg_v2},
    {"dw", "v3", "v2 over a zero-padded x plane copy, no clipping (ops/cpu/conv.cpp, Wo > 8 or stride > 1)", wg_v3},
    {"dw", "v4", "stride 1: v3 with flat loops; acc spills L1 (ops/cpu/conv.cpp, stride 1, Wo <= 8)", wg_v4},
};

double median_seconds(const std::function<void()>& f, int reps) {
  f();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::vector<float> to_floats(const ds::Tensor& t) {
  const ds::Tensor c = t.contiguous();
  const float* p = c.data_ptr<float>();
  return std::vector<float>(p, p + c.numel());
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = std::random_device{}();
  int reps = 30;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
  }
  std::printf("depthwise_conv2d lab: seed %llu (replay with --seed), %d reps, f32\n",
              static_cast<unsigned long long>(seed), reps);
  std::printf("  ref  ops/cpu/conv.cpp through ds::conv2d and the conv2d_*_grad ops\n");
  for (const Variant& v : kVariants) std::printf("  %-3s %-3s %s\n", v.pass, v.name, v.idea);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;

  // MobileNetV2's depthwise convs at 64x64 input (32x32 after the stem), batch 4, plus a dilated odd-sized check.
  struct Case {
    const char* label;
    Geo g;
  };
  std::vector<Case> cases = {{"(4,32,32,32) k3 s1 p1", {4, 32, 32, 32, 3, 1, 1, 1}},
                             {"(4,96,32,32) k3 s2 p1", {4, 96, 32, 32, 3, 2, 1, 1}},
                             {"(4,144,16,16) k3 s1 p1", {4, 144, 16, 16, 3, 1, 1, 1}},
                             {"(4,960,4,4) k3 s1 p1", {4, 960, 4, 4, 3, 1, 1, 1}},
                             {"(3,5,11,9) k5 s2 p3 d2 (check)", {3, 5, 11, 9, 5, 2, 3, 2}}};
  int failures = 0;
  for (Case& cs : cases) {
    Geo& g = cs.g;
    g.Ho = (g.H + 2 * g.p - g.d * (g.k - 1) - 1) / g.s + 1;
    g.Wo = (g.W + 2 * g.p - g.d * (g.k - 1) - 1) / g.s + 1;
    const int64_t nx = g.N * g.C * g.H * g.W, ny = g.N * g.C * g.Ho * g.Wo, nw = g.C * g.k * g.k;
    std::vector<float> x(nx), w(nw), gy(ny);
    for (float& f : x) f = normal(rng);
    for (float& f : w) f = normal(rng);
    for (float& f : gy) f = normal(rng);
    const ds::Tensor xt = ds::from_vector(x, {g.N, g.C, g.H, g.W}), wt = ds::from_vector(w, {g.C, 1, g.k, g.k}),
                     gyt = ds::from_vector(gy, {g.N, g.C, g.Ho, g.Wo});
    const ds::ConvOptions opts{.stride = {g.s}, .padding = {g.p}, .dilation = {g.d}, .groups = g.C};
    const ds::Conv2dInputGradAttrs a_in{
        .stride = {g.s, g.s}, .padding = {g.p, g.p}, .dilation = {g.d, g.d}, .groups = g.C, .input_size = {g.H, g.W}};
    const ds::Conv2dWeightGradAttrs a_w{
        .stride = {g.s, g.s}, .padding = {g.p, g.p}, .dilation = {g.d, g.d}, .groups = g.C, .kernel_size = {g.k, g.k}};
    const std::function<ds::Tensor()> refs[3] = {
        [&] { return ds::conv2d(xt, wt, {}, opts); },
        [&] { return ds::call_op1(ds::OpId::conv2d_input_grad, {gyt, wt}, a_in); },
        [&] { return ds::call_op1(ds::OpId::conv2d_weight_grad, {xt, gyt}, a_w); }};
    const char* passes[3] = {"fwd", "dx", "dw"};
    const int64_t out_n[3] = {ny, nx, nw};
    // Products summed into one output: k*k (fwd, dx at most), N*Ho*Wo (dw).
    const double terms[3] = {double(g.k * g.k), double(g.k * g.k), double(g.N * g.Ho * g.Wo)};
    const float* ins[3][2] = {{x.data(), w.data()}, {gy.data(), w.data()}, {x.data(), gy.data()}};
    std::printf("\n%s  (out %lldx%lld)\n", cs.label, static_cast<long long>(g.Ho), static_cast<long long>(g.Wo));
    std::printf("  %-4s %-4s %-5s %12s %12s\n", "pass", "var", "check", "1 thread us", "2 threads us");
    for (int p = 0; p < 3; ++p) {
      const std::vector<float> ref = to_floats(refs[p]());
      double tr[2];
      for (int t = 1; t <= 2; ++t) {
        ds::set_num_threads(t);
        tr[t - 1] = median_seconds([&] { refs[p](); }, reps);
      }
      std::printf("  %-4s %-4s %-5s %12.1f %12.1f\n", passes[p], "ref", "", tr[0] * 1e6, tr[1] * 1e6);
      for (const Variant& v : kVariants) {
        if (std::strcmp(v.pass, passes[p]) != 0) continue;
        std::vector<float> out(out_n[p] + 16, 12345.f);  // guard values after the output
        omp_set_num_threads(2);
        v.fn(ins[p][0], ins[p][1], out.data(), g);
        int bad = 0;
        const double tol = 4 * 1.19e-7 * terms[p] * 4;
        for (int64_t i = 0; i < out_n[p]; ++i)
          if (!(std::abs(out[i] - ref[i]) <= tol * (1 + std::abs(ref[i])))) {
            if (bad < 3)
              std::printf("  %s %s MISMATCH at %lld: %g, reference %g\n", v.pass, v.name, static_cast<long long>(i),
                          out[i], ref[i]);
            ++bad;
          }
        for (int i = 0; i < 16; ++i) bad += out[out_n[p] + i] != 12345.f;
        failures += bad;
        double tv[2];
        for (int t = 1; t <= 2; ++t) {
          omp_set_num_threads(t);
          tv[t - 1] = median_seconds([&] { v.fn(ins[p][0], ins[p][1], out.data(), g); }, reps);
        }
        std::printf("  %-4s %-4s %-5s %12.1f %12.1f\n", v.pass, v.name, bad ? "FAIL" : "ok", tv[0] * 1e6, tv[1] * 1e6);
      }
    }
  }
  return failures ? 1 : 0;
}
