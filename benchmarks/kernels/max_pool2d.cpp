// Kernel lab for the CPU max_pool2d forward (STYLE.md rule 6), one plane at a time (the kernel runs planes in
// parallel). The reference is ds::max_pool2d_with_indices (ops/cpu/pool.cpp); the variants below are the record of
// what was tried. main() draws random planes (printed, replayable seed), checks every variant's values and indices
// against the reference (NaNs included, guard values after the outputs), then times each on LeNet-5's and
// ResNet-18's pools, single-threaded.
//
//   max_pool2d_lab [--seed S] [--reps R]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <ds/ds.h>

namespace {

struct Geo {
  int64_t H, W, k, s, p, Ho, Wo;
};
using PoolFn = void (*)(const float* in, const Geo& g, float* out, int64_t* ind);

// v1: the first kernel. Bounds checked per element; `if (at < 0 || v > best || isnan(v))` is a branch that random
// data mispredicts about half the time, and a division per window for the dilation-aware clipping.
void pool_v1(const float* in, const Geo& g, float* out, int64_t* ind) {
  for (int64_t oh = 0; oh < g.Ho; ++oh)
    for (int64_t ow = 0; ow < g.Wo; ++ow) {
      float best = -std::numeric_limits<float>::infinity();
      int64_t at = -1;
      for (int64_t i = 0; i < g.k; ++i) {
        const int64_t ih = oh * g.s - g.p + i;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t j = 0; j < g.k; ++j) {
          const int64_t iw = ow * g.s - g.p + j;
          if (iw < 0 || iw >= g.W) continue;
          const float v = in[ih * g.W + iw];
          if (at < 0 || v > best || std::isnan(v)) {
            best = v;
            at = ih * g.W + iw;
            if (std::isnan(v)) goto done;
          }
        }
      }
    done:
      out[oh * g.Wo + ow] = best;
      ind[oh * g.Wo + ow] = at;
    }
}

// v2: windows clipped once with min/max; the plain C++ select `take = !(v <= best) & (best == best)`. GCC still
// compiles it to a branch on the compare (seen in perf annotate), so it mispredicts like v1.
void pool_v2(const float* in, const Geo& g, float* out, int64_t* ind) {
  for (int64_t oh = 0; oh < g.Ho; ++oh) {
    const int64_t h0 = oh * g.s - g.p, i_lo = std::max<int64_t>(h0, 0), i_hi = std::min(h0 + g.k, g.H);
    for (int64_t ow = 0; ow < g.Wo; ++ow) {
      const int64_t w0 = ow * g.s - g.p, j_lo = std::max<int64_t>(w0, 0), j_hi = std::min(w0 + g.k, g.W);
      int64_t at = i_lo * g.W + j_lo;
      float best = in[at];
      for (int64_t i = i_lo; i < i_hi; ++i)
        for (int64_t j = j_lo; j < j_hi; ++j) {
          const int64_t pos = i * g.W + j;
          const float v = in[pos];
          const bool take = !(v <= best) & (best == best);
          best = take ? v : best;
          at = take ? pos : at;
        }
      out[oh * g.Wo + ow] = best;
      ind[oh * g.Wo + ow] = at;
    }
  }
}

// v3 (in ops/cpu/pool.cpp): v2's clipping with the select done by SSE compares, a blend and a movemask, so no
// branch is left in the window loop.
void pool_v3(const float* in, const Geo& g, float* out, int64_t* ind) {
  for (int64_t oh = 0; oh < g.Ho; ++oh) {
    const int64_t h0 = oh * g.s - g.p, i_lo = std::max<int64_t>(h0, 0), i_hi = std::min(h0 + g.k, g.H);
    for (int64_t ow = 0; ow < g.Wo; ++ow) {
      const int64_t w0 = ow * g.s - g.p, j_lo = std::max<int64_t>(w0, 0), j_hi = std::min(w0 + g.k, g.W);
      int64_t at = i_lo * g.W + j_lo;
      float best = in[at];
      for (int64_t i = i_lo; i < i_hi; ++i)
        for (int64_t j = j_lo; j < j_hi; ++j) {
          const int64_t pos = i * g.W + j;
          const __m128 vv = _mm_set_ss(in[pos]), bb = _mm_set_ss(best);
          const __m128 m = _mm_and_ps(_mm_cmp_ss(vv, bb, _CMP_NLE_UQ), _mm_cmp_ss(bb, bb, _CMP_ORD_Q));
          best = _mm_cvtss_f32(_mm_blendv_ps(bb, vv, m));
          at += (pos - at) * (_mm_movemask_ps(m) & 1);
        }
      out[oh * g.Wo + ow] = best;
      ind[oh * g.Wo + ow] = at;
    }
  }
}

struct Variant {
  const char* name;
  const char* idea;
  PoolFn fn;
};
const Variant kVariants[] = {
    {"v1", "per-element bounds checks, branchy update (the first kernel)", pool_v1},
    {"v2", "windows clipped once, C++ select (GCC keeps a branch)", pool_v2},
    {"v3", "windows clipped once, SSE compare + blend, branch-free (ops/cpu/pool.cpp)", pool_v3},
};

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = std::random_device{}();
  int reps = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
  }
  std::printf("max_pool2d lab: seed %llu (replay with --seed), %d reps, 1 thread\n", static_cast<unsigned long long>(seed), reps);
  for (const Variant& v : kVariants) std::printf("  %-3s %s\n", v.name, v.idea);
  ds::set_num_threads(1);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;

  // (label, N*C planes, H, W, k, s, p): LeNet-5's two pools, ResNet-18's stem pool at 32x32 input.
  struct Shape4 {
    const char* label;
    int64_t planes, H, W, k, s, p;
  };
  const Shape4 shapes[] = {{"lenet pool1 (64x6,28x28,k2s2)", 64 * 6, 28, 28, 2, 2, 0},
                           {"lenet pool2 (64x16,10x10,k2s2)", 64 * 16, 10, 10, 2, 2, 0},
                           {"resnet stem (32x64,16x16,k3s2p1)", 32 * 64, 16, 16, 3, 2, 1}};
  int failures = 0;
  for (const Shape4& sh : shapes) {
    const Geo g{sh.H, sh.W, sh.k, sh.s, sh.p, (sh.H + 2 * sh.p - sh.k) / sh.s + 1, (sh.W + 2 * sh.p - sh.k) / sh.s + 1};
    const int64_t in_n = sh.planes * g.H * g.W, out_n = sh.planes * g.Ho * g.Wo;
    std::vector<float> x(in_n);
    for (float& f : x) f = normal(rng);
    x[in_n / 3] = std::numeric_limits<float>::quiet_NaN();  // a NaN must win its window
    const ds::Tensor xt = ds::from_vector(std::vector<double>(x.begin(), x.end()), {1, sh.planes, g.H, g.W}).to(ds::kF32);
    const auto ref = ds::max_pool2d_with_indices(xt, {sh.k}, {.stride = {sh.s}, .padding = {sh.p}});
    const float* rv = ref.values.data_ptr<float>();
    const int64_t* ri = ref.indices.data_ptr<int64_t>();
    std::printf("\n%s\n", sh.label);
    for (const Variant& v : kVariants) {
      std::vector<float> out(out_n + 16, 12345.f);  // guard values after the output
      std::vector<int64_t> ind(out_n + 16, -7);
      auto run = [&] {
        for (int64_t pl = 0; pl < sh.planes; ++pl)
          v.fn(x.data() + pl * g.H * g.W, g, out.data() + pl * g.Ho * g.Wo, ind.data() + pl * g.Ho * g.Wo);
      };
      run();
      int bad = 0;
      for (int64_t i = 0; i < out_n && bad < 3; ++i) {
        const bool same = (out[i] == rv[i] || (std::isnan(out[i]) && std::isnan(rv[i]))) && ind[i] == ri[i];
        if (!same) {
          std::printf("  %s MISMATCH at %lld: %g@%lld, reference %g@%lld\n", v.name, static_cast<long long>(i), out[i],
                      static_cast<long long>(ind[i]), rv[i], static_cast<long long>(ri[i]));
          ++bad;
        }
      }
      for (int i = 0; i < 16; ++i) bad += out[out_n + i] != 12345.f || ind[out_n + i] != -7;
      failures += bad;
      std::vector<double> t;
      for (int r = 0; r < reps; ++r) t.push_back(seconds_of(run));
      std::sort(t.begin(), t.end());
      const double sec = t[t.size() / 2];
      std::printf("  %-3s %s  %8.1f us  %6.2f ns/output  %5.2f GB/s read\n", v.name, bad ? "FAIL" : "ok  ", sec * 1e6,
                  sec * 1e9 / out_n, in_n * 4.0 / sec / 1e9);
    }
  }
  return failures ? 1 : 0;
}
