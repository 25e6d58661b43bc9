// bfloat16 GEMM on CPUs with AVX512_BF16: vdpbf16ps multiplies pairs of bf16 values and adds both products to a
// float32 accumulator, so one instruction does the work of two float32 FMAs. Same BLIS-style blocking as
// gemm_f32.cpp, on pairs of k: A is packed into panels of MR rows holding, for each pair (p, p + 1), the two values
// of each row side by side; B into panels of NR columns holding, for each pair, the two values of each column side
// by side (an odd k is padded with a zero). Chosen at run time: the functions carry their own target attribute, so a
// build for another CPU still has them and a CPU without the instructions never runs them.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "gemm.h"
#include "gemm_blocked.h"

namespace ds::cpu {
namespace {

constexpr int64_t MR = 6, NR = 32;
constexpr int64_t KC = 512;   // k values per block (256 pairs): a B micro-panel is 32 KB of bf16
constexpr int64_t MC = 96;
constexpr int64_t NC = 4096;

#define DS_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

// C[MR x NR] = (beta ? C : 0) + sum over the (kc + 1) / 2 pairs of Ap (MR pairs each) . Bp (NR pairs each).
DS_BF16_TARGET void micro_kernel(int64_t kc, const uint32_t* __restrict ap, const uint16_t* __restrict bp,
                                 float* __restrict c, int64_t ldc, bool beta) {
  const int64_t kp = (kc + 1) / 2;
  __m512 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t q = 0; q < kp; ++q) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(bp), b1 = (__m512bh)_mm512_load_si512(bp + 32);
    _mm_prefetch(reinterpret_cast<const char*>(bp + 16 * NR), _MM_HINT_T0);
    for (int i = 0; i < MR; ++i) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[i]));
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], a, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], a, b1);
    }
    ap += MR;
    bp += 2 * NR;
  }
  store_tile_avx512<MR>(acc, c, ldc, beta);
}

uint16_t at(const BFloat16* x, int64_t rs, int64_t cs, int64_t i, int64_t p, int64_t rows, int64_t k) {
  return i < rows && p < k ? x[i * rs + p * cs].bits : uint16_t{0};
}
uint32_t pair_at(const BFloat16* x) {  // x[0] and x[1], adjacent in memory, as one 32-bit lane
  uint32_t v;
  std::memcpy(&v, x, sizeof(v));
  return v;
}

// Rows [0, mc) x cols [0, kc) of A into MR-row panels of pairs: panel i, pair q holds (a[r][2q], a[r][2q+1]) per row.
// Row-major A reads each pair as one 32-bit load; the rest (edges, odd k, other layouts) goes element by element.
void pack_a(int64_t mc, int64_t kc, const BFloat16* a, int64_t rs, int64_t cs, uint32_t* out) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    if (cs == 1 && i0 + MR <= mc) {
      const int64_t even = kc & ~int64_t{1};
      for (int64_t p = 0; p < even; p += 2)
        for (int64_t r = 0; r < MR; ++r) *out++ = pair_at(a + (i0 + r) * rs + p);
      if (even < kc)
        for (int64_t r = 0; r < MR; ++r) *out++ = a[(i0 + r) * rs + even].bits;
      continue;
    }
    for (int64_t p = 0; p < kc; p += 2)
      for (int64_t r = 0; r < MR; ++r)
        *out++ = at(a, rs, cs, i0 + r, p, mc, kc) | uint32_t{at(a, rs, cs, i0 + r, p + 1, mc, kc)} << 16;
  }
}

// Rows [0, kc) x cols [0, nc) of B into NR-column panels of pairs: panel j, pair q holds (b[2q][c], b[2q+1][c]).
// Row-major B interleaves two rows of 32 columns with two permutes; B whose k is contiguous (a transposed weight,
// conv's columns in the weight gradient) transposes its 32-bit pairs 8 x 8 at a time.
DS_BF16_TARGET void pack_b(int64_t kc, int64_t nc, const BFloat16* b, int64_t rs, int64_t cs, uint16_t* out) {
  static_assert(NR == 32, "the interleave below is for 32 columns");
  const __m512i lo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6, 37,
                                      5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i hi = _mm512_add_epi16(lo, _mm512_set1_epi16(16));
  const int64_t even = kc & ~int64_t{1};
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    const bool full = j0 + NR <= nc;
    if (full && cs == 1) {
      for (int64_t p = 0; p < even; p += 2, out += 2 * NR) {
        const __m512i r0 = _mm512_loadu_si512(b + p * rs + j0), r1 = _mm512_loadu_si512(b + (p + 1) * rs + j0);
        _mm512_store_si512(out, _mm512_permutex2var_epi16(r0, lo, r1));
        _mm512_store_si512(out + NR, _mm512_permutex2var_epi16(r0, hi, r1));
      }
    } else if (full && rs == 1) {
      // Each column's pairs are 32-bit words in a row of B's transpose: 8 x 8 transposes of those words.
      auto* out32 = reinterpret_cast<uint32_t*>(out);
      const int64_t pairs = even / 2;
      int64_t q0 = 0;
      for (; q0 + 8 <= pairs; q0 += 8)
        for (int64_t c0 = 0; c0 < NR; c0 += 8) {
          __m256 r[8];
          for (int i = 0; i < 8; ++i)
            r[i] = _mm256_loadu_ps(reinterpret_cast<const float*>(b + (j0 + c0 + i) * cs + 2 * q0));
          transpose8(r);
          for (int i = 0; i < 8; ++i) _mm256_storeu_ps(reinterpret_cast<float*>(out32 + (q0 + i) * NR + c0), r[i]);
        }
      for (; q0 < pairs; ++q0)
        for (int64_t q = 0; q < NR; ++q) out32[q0 * NR + q] = pair_at(b + (j0 + q) * cs + 2 * q0);
      out += even * NR;
    }
    const int64_t from = full && (cs == 1 || rs == 1) ? even : 0;  // what the fast paths left: the odd last k
    for (int64_t p = from; p < kc; p += 2)
      for (int64_t q = 0; q < NR; ++q) {
        // (b as k x n: element (p, j) is b[p * rs + j * cs]; `at` takes (row, col) = (j, p) of its transpose)
        *out++ = at(b, cs, rs, j0 + q, p, nc, kc);
        *out++ = at(b, cs, rs, j0 + q, p + 1, nc, kc);
      }
  }
}

struct PackBuffers {
  uint32_t* a = static_cast<uint32_t*>(std::aligned_alloc(64, MC * KC / 2 * sizeof(uint32_t)));
  uint16_t* b = static_cast<uint16_t*>(std::aligned_alloc(64, KC * (NC + NR) * sizeof(uint16_t)));
  ~PackBuffers() {
    std::free(a);
    std::free(b);
  }
};

// The blocking and kernels above, for gemm_blocked: panels hold pairs of k, so a kc-long slice is (kc + 1) / 2 pairs.
struct Bf16Kernel {
  using In = BFloat16;
  using PackedA = uint32_t;
  using PackedB = uint16_t;
  static constexpr int64_t MR = cpu::MR, NR = cpu::NR, KC = cpu::KC, MC = cpu::MC, NC = cpu::NC;
  static constexpr auto pack_a = &cpu::pack_a, pack_b = &cpu::pack_b;
  static constexpr auto micro_kernel = &cpu::micro_kernel;
  static int64_t a_panel(int64_t ir, int64_t kc) { return ir * ((kc + 1) / 2); }
  static int64_t b_panel(int64_t jr, int64_t kc) { return jr * 2 * ((kc + 1) / 2); }
};

bool& bf16_enabled() {
  static bool on = [] {
    __builtin_cpu_init();
    const char* env = std::getenv("DS_CPU_BF16");
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") && !(env && *env == '0');
  }();
  return on;
}

}  // namespace

bool gemm_bf16_available() { return bf16_enabled(); }

bool set_gemm_bf16_enabled(bool on) {
  static const bool supported = (__builtin_cpu_init(), __builtin_cpu_supports("avx512bf16") &&
                                                           __builtin_cpu_supports("avx512bw"));
  bf16_enabled() = on && supported;
  return bf16_enabled();
}

void gemm_bf16(int64_t m, int64_t n, int64_t k, MatRef<const BFloat16> a, MatRef<const BFloat16> b, MatRef<float> c,
               bool accumulate, int threads) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c.data[i * c.rs + j * c.cs] = 0.0f;
    return;
  }
  split_over_threads(m, n, k, a, b, c, threads, MR, NR, 4e6,
                     [&](int64_t m2, int64_t n2, MatRef<const BFloat16> a2, MatRef<const BFloat16> b2,
                         MatRef<float> c2) {
                       thread_local PackBuffers buf;
                       gemm_blocked<Bf16Kernel>(m2, n2, k, a2, b2, c2, accumulate, buf.a, buf.b);
                     });
}

}  // namespace ds::cpu
