// Kernel lab for the float32 CPU GEMM (STYLE.md rule 6). Variants live side by side here with the reference (Eigen's
// GEMM and ds's current one in ops/cpu/gemm_f32.cpp); main() checks every variant on fresh random operands (printed,
// replayable seed) and then times it against the machine's FP32 peak, measured here with an FMA loop.
//
//   gemm_lab [n ...] [--threads T] [--seed S]
//
// The winner moves to ops/cpu/gemm_f32.cpp with its variant name in a comment; the losers stay as the record.
#include <immintrin.h>
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

#include "ops/cpu/gemm.h"

namespace {

using ds::cpu::MatRef;
using GemmFn = std::function<void(int64_t, int64_t, int64_t, const float*, const float*, float*, int)>;

// ---------------------------------------------------------------------------------------------------------------
// Variant "blis": BLIS-style loops around an MR x NR register tile, parameterised so the lab can sweep the blocking.
// Threads share one packed B block and split the rows of C (each packs its own A block).
template <int MR, int NR, int KC, int MC, int NC, int UNROLL, bool SHARED_B = true>
struct Blis {
  static void kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c, int64_t ldc,
                     bool beta) {
    static_assert(NR % 8 == 0);
    constexpr int NV = NR / 8;
    __m256 acc[MR][NV];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_setzero_ps();
    // A plain loop (no lambda capturing the accumulators), so they stay in registers.
    for (int64_t p = 0; p < kc; ++p) {
      if (UNROLL > 1 && p % UNROLL == 0) _mm_prefetch(reinterpret_cast<const char*>(bp + 4 * NR * UNROLL), _MM_HINT_T0);
      __m256 b[NV];
      for (int j = 0; j < NV; ++j) b[j] = _mm256_load_ps(bp + 8 * j);
      for (int i = 0; i < MR; ++i) {
        const __m256 a = _mm256_broadcast_ss(ap + i);
        for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
      }
      ap += MR;
      bp += NR;
    }
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) {
        float* dst = c + i * ldc + 8 * j;
        __m256 v = acc[i][j];
        if (beta) v = _mm256_add_ps(v, _mm256_loadu_ps(dst));
        _mm256_storeu_ps(dst, v);
      }
  }

  static void pack_a(int64_t mc, int64_t kc, const float* a, int64_t lda, float* out) {
    for (int64_t i0 = 0; i0 < mc; i0 += MR) {
      const int64_t mr = std::min<int64_t>(MR, mc - i0);
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t r = 0; r < MR; ++r) *out++ = r < mr ? a[(i0 + r) * lda + p] : 0.0f;
    }
  }
  static void pack_b(int64_t kc, int64_t nc, const float* b, int64_t ldb, float* out) {
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
      const int64_t nr = std::min<int64_t>(NR, nc - j0);
      if (nr == NR) {
        for (int64_t p = 0; p < kc; ++p, out += NR) std::memcpy(out, b + p * ldb + j0, NR * sizeof(float));
      } else {
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t q = 0; q < NR; ++q) *out++ = q < nr ? b[p * ldb + j0 + q] : 0.0f;
      }
    }
  }

  // Rows [r0, r1) of C (+)= A's rows (columns [0, kc) from a) @ the packed B block (kc x nc).
  static void rows(int64_t r0, int64_t r1, int64_t kc, int64_t nc, const float* a, int64_t lda, const float* bpack,
                   float* c, int64_t ldc, bool beta, float* apack) {
    alignas(64) float tile[MR * NR];
    for (int64_t ic = r0; ic < r1; ic += MC) {
      const int64_t mc = std::min<int64_t>(MC, r1 - ic);
      pack_a(mc, kc, a + ic * lda, lda, apack);
      for (int64_t jr = 0; jr < nc; jr += NR) {
        const int64_t nr = std::min<int64_t>(NR, nc - jr);
        for (int64_t ir = 0; ir < mc; ir += MR) {
          const int64_t mr = std::min<int64_t>(MR, mc - ir);
          float* cij = c + (ic + ir) * ldc + jr;
          if (mr == MR && nr == NR) {
            kernel(kc, apack + ir * kc, bpack + jr * kc, cij, ldc, beta);
            continue;
          }
          kernel(kc, apack + ir * kc, bpack + jr * kc, tile, NR, false);
          for (int64_t i = 0; i < mr; ++i)
            for (int64_t j = 0; j < nr; ++j) cij[i * ldc + j] = (beta ? cij[i * ldc + j] : 0.0f) + tile[i * NR + j];
        }
      }
    }
  }

  // One thread's product on rows [0, m) of C: packs its own B.
  static void serial(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                     float* c, int64_t ldc) {
    thread_local float* bpack = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * (NC + NR)));
    thread_local float* apack = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    for (int64_t jc = 0; jc < n; jc += NC) {
      const int64_t nc = std::min<int64_t>(NC, n - jc);
      for (int64_t pc = 0; pc < k; pc += KC) {
        const int64_t kc = std::min<int64_t>(KC, k - pc);
        pack_b(kc, nc, b + pc * ldb + jc, ldb, bpack);
        rows(0, m, kc, nc, a + pc, lda, bpack, c + jc, ldc, pc > 0, apack);
      }
    }
  }

  // Row-major A (m x k), B (k x n), C (m x n).
  static void gemm(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, int threads) {
    if constexpr (!SHARED_B) {
      const int64_t per = (m + threads * MR - 1) / (threads * MR) * MR;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
      for (int t = 0; t < threads; ++t) {
        const int64_t r0 = std::min(m, t * per), r1 = std::min(m, r0 + per);
        if (r0 < r1) serial(r1 - r0, n, k, a + r0 * k, k, b, n, c + r0 * n, n);
      }
      return;
    }
    static float* bpack = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * (NC + NR)));
    const int64_t rows_per = (m + threads * MR - 1) / (threads * MR) * MR;
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      thread_local float* apack = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
      const int64_t r0 = std::min(m, t * rows_per), r1 = std::min(m, r0 + rows_per);
      for (int64_t jc = 0; jc < n; jc += NC) {
        const int64_t nc = std::min<int64_t>(NC, n - jc);
        for (int64_t pc = 0; pc < k; pc += KC) {
          const int64_t kc = std::min<int64_t>(KC, k - pc);
#pragma omp barrier
          // Threads pack disjoint column panels of the shared B block.
          const int64_t panels = (nc + NR - 1) / NR;
          for (int64_t pj = t; pj < panels; pj += threads)
            pack_b(kc, std::min<int64_t>(NR, nc - pj * NR), b + pc * n + jc + pj * NR, n, bpack + pj * NR * kc);
#pragma omp barrier
          rows(r0, r1, kc, nc, a + pc, k, bpack, c + jc, n, pc > 0, apack);
        }
      }
    }
  }
};

struct Variant {
  const char* name;
  const char* idea;
  GemmFn fn;
};

std::vector<Variant> variants() {
  return {
      {"eigen", "Eigen 3.4's GEMM (the reference ds must beat)",
       [](int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, int t) {
         omp_set_num_threads(t);
         ds::cpu::gemm_eigen(m, n, k, {a, k, 1}, {b, n, 1}, {c, n, 1}, false);
       }},
      {"ds", "ds's current kernel (ops/cpu/gemm_f32.cpp)",
       [](int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, int t) {
         ds::cpu::gemm(m, n, k, {a, k, 1}, {b, n, 1}, {c, n, 1}, false, t);
       }},
      {"v1_shared_b_kc256_mc96", "6x16 tile, one packed B shared by the threads (barriers), KC 256, MC 96",
       [](int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, int t) {
         Blis<6, 16, 256, 96, 4096, 4>::gemm(m, n, k, a, b, c, t);
       }},
      {"v2_slices_kc256_mc96", "6x16, each thread its own rows and packed B (what ds does)",
       [](int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, int t) {
         Blis<6, 16, 256, 96, 4096, 4, false>::gemm(m, n, k, a, b, c, t);
       }},
      {"v3_slices_kc256_mc144_nc2040", "BLIS's Zen blocking: MC 144, NC ~2k",
       [](int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, int t) {
         Blis<6, 16, 256, 144, 2048, 4, false>::gemm(m, n, k, a, b, c, t);
       }},
      {"v4_slices_kc384_mc96_nc1024", "longer k panels, B block 1.5 MB",
       [](int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, int t) {
         Blis<6, 16, 384, 96, 1024, 4, false>::gemm(m, n, k, a, b, c, t);
       }},
      {"v5_slices_kc192_mc192_nc512", "B block 384 KB (fits L2), A block 144 KB",
       [](int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, int t) {
         Blis<6, 16, 192, 192, 512, 4, false>::gemm(m, n, k, a, b, c, t);
       }},
      {"v6_slices_5x16", "5x16 tile (10 accumulators), KC 256, MC 100",
       [](int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, int t) {
         Blis<5, 16, 256, 100, 4096, 4, false>::gemm(m, n, k, a, b, c, t);
       }},
  };
}

double fma_peak(int threads) {
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const long iters = 20000000;
    const auto t0 = std::chrono::steady_clock::now();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
      __m256 a[10];  // chains from distinct values: equal ones are merged into one chain by the compiler
      for (int j = 0; j < 10; ++j) a[j] = _mm256_set1_ps(1.0f + 0.01f * static_cast<float>(j));
      const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
      for (long i = 0; i < iters; ++i)
        for (auto& v : a) v = _mm256_fmadd_ps(v, m, c);
      __m256 s = a[0];
      for (int j = 1; j < 10; ++j) s = _mm256_add_ps(s, a[j]);
      float f[8];
      _mm256_storeu_ps(f, s);
      sink += f[0];
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, threads * iters * 10.0 * 16 / sec / 1e9);
    if (sink == 42) std::puts("");
  }
  return best;
}

}  // namespace

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  int threads = 2, rounds = 5;
  uint64_t seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else sizes.push_back(std::atoll(argv[i]));
  }
  if (sizes.empty()) sizes = {512, 1024, 2048};
  std::printf("seed %llu (replay with --seed), %d threads, %d interleaved rounds (median reported)\n",
              static_cast<unsigned long long>(seed), threads, rounds);
  const auto vs = variants();
  for (const Variant& v : vs) std::printf("  %-22s %s\n", v.name, v.idea);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd;
  for (int64_t n : sizes) {
    std::vector<float> a(n * n), b(n * n), ref(n * n);
    for (auto& x : a) x = nd(rng);
    for (auto& x : b) x = nd(rng);
    // The reference: a plain triple loop in double on a sample of rows would be slow for 2048; Eigen is the
    // independent reference here (it shares no code with ds's kernel).
    ds::cpu::gemm_eigen(n, n, n, {a.data(), n, 1}, {b.data(), n, 1}, {ref.data(), n, 1}, false);
    std::vector<std::vector<double>> gf(vs.size()), ratio(vs.size());
    std::vector<bool> ok(vs.size(), true);
    std::vector<std::string> why(vs.size());
    std::vector<double> peaks;
    for (size_t k = 0; k < vs.size(); ++k) {  // check every variant once, with guard bytes after C
      std::vector<float> c(n * n + 16, NAN);
      vs[k].fn(n, n, n, a.data(), b.data(), c.data(), threads);
      for (int64_t i = 0; i < n * n && ok[k]; ++i)
        if (!(std::fabs(c[i] - ref[i]) <= 1e-4 * std::sqrt(static_cast<double>(n)) * (1 + std::fabs(ref[i])))) {
          ok[k] = false;
          why[k] = "element " + std::to_string(i) + ": " + std::to_string(c[i]) + " vs " + std::to_string(ref[i]);
        }
      for (int i = 0; i < 16; ++i)
        if (!std::isnan(c[n * n + i])) {
          ok[k] = false;
          why[k] = "guard bytes after C overwritten";
        }
    }
    std::vector<float> c(n * n);
    for (int r = 0; r < rounds; ++r) {
      const double peak = fma_peak(threads);
      peaks.push_back(peak);
      for (size_t k = 0; k < vs.size(); ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        vs[k].fn(n, n, n, a.data(), b.data(), c.data(), threads);
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        gf[k].push_back(2.0 * n * n * n / sec / 1e9);
        ratio[k].push_back(gf[k].back() / peak);
      }
    }
    std::printf("n=%lld: FP32 peak (FMA loop) median %.1f GFLOP/s\n", static_cast<long long>(n), median(peaks));
    for (size_t k = 0; k < vs.size(); ++k)
      std::printf("  %-22s %7.1f GFLOP/s  %5.1f%% of peak  %s%s\n", vs[k].name, median(gf[k]), 100 * median(ratio[k]),
                  ok[k] ? "ok" : "MISMATCH: ", why[k].c_str());
  }
}
