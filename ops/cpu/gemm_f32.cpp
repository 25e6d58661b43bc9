// ds's own float32 GEMM: BLIS-style blocking around a register-blocked micro-kernel (6 x 16 with AVX2+FMA, 6 x 32
// with AVX-512). A is packed into panels of MR rows, B into panels of NR columns, so the micro-kernel streams both
// from L1/L2 whatever the operands' strides. The sum over k runs in the same order whatever the thread count, so
// results do not depend on it: threads take disjoint slices of C's rows (or columns).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "gemm.h"
#include "gemm_blocked.h"

namespace ds::cpu {
namespace {

#if defined(__AVX512F__)
constexpr int64_t MR = 6, NR = 32;
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int64_t MR = 6, NR = 16;
#else
constexpr int64_t MR = 4, NR = 8;
#endif
constexpr int64_t KC = 256;   // A micro-panel (MR x KC) and B micro-panel (KC x NR) stay in L1
constexpr int64_t MC = 96;    // A block (MC x KC) stays in L2
constexpr int64_t NC = 4096;  // B block (KC x NC) stays in L3

// C[MR x NR] = (beta ? C : 0) + Ap (MR x kc, packed) @ Bp (kc x NR, packed); C row stride ldc, column stride 1.
void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* __restrict c,
                  int64_t ldc, bool beta) {
#if defined(__AVX512F__)
  __m512 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
    _mm_prefetch(reinterpret_cast<const char*>(bp + 8 * NR), _MM_HINT_T0);
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(ap[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += MR;
    bp += NR;
  }
  store_tile_avx512<MR>(acc, c, ldc, beta);
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
         c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
    _mm_prefetch(reinterpret_cast<const char*>(bp + 8 * NR), _MM_HINT_T0);
    __m256 a = _mm256_broadcast_ss(ap + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(ap + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(ap + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(ap + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(ap + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(ap + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
    ap += MR;
    bp += NR;
  }
  auto put = [&](float* row, __m256 lo, __m256 hi) {
    if (beta) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(row));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, lo);
    _mm256_storeu_ps(row + 8, hi);
  };
  put(c + 0 * ldc, c00, c01);
  put(c + 1 * ldc, c10, c11);
  put(c + 2 * ldc, c20, c21);
  put(c + 3 * ldc, c30, c31);
  put(c + 4 * ldc, c40, c41);
  put(c + 5 * ldc, c50, c51);
#else
  float acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p, ap += MR, bp += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ap[i] * bp[j];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = (beta ? c[i * ldc + j] : 0.0f) + acc[i][j];
#endif
}

// Packs rows [0, mc) x cols [0, kc) of A into MR-row panels: panel i holds, for each p, MR values (zero-padded).
void pack_a(int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, float* out) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const int64_t mr = std::min(MR, mc - i0);
    if (mr == MR && cs == 1) {
      const float* rows[MR];
      for (int64_t r = 0; r < MR; ++r) rows[r] = a + (i0 + r) * rs;
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t r = 0; r < MR; ++r) *out++ = rows[r][p];
      continue;
    }
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t r = 0; r < MR; ++r) *out++ = r < mr ? a[(i0 + r) * rs + p * cs] : 0.0f;
  }
}


// Packs rows [0, kc) x cols [0, nc) of B into NR-column panels: panel j holds, for each p, NR values (zero-padded).
// Row-major B copies rows; B whose columns are contiguous (a transposed weight, conv's columns in the weight
// gradient) is transposed 8 x 8 at a time: element by element it cost more than the product itself when M is small
// (the weight gradient's M = 64 x K = 32768 x N = 576 ran at 41 GFLOP/s against 119 for row-major B).
void pack_b(int64_t kc, int64_t nc, const float* b, int64_t rs, int64_t cs, float* out) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    const int64_t nr = std::min(NR, nc - j0);
    if (nr == NR && cs == 1) {
      for (int64_t p = 0; p < kc; ++p, out += NR) std::memcpy(out, b + p * rs + j0, NR * sizeof(float));
      continue;
    }
    int64_t p0 = 0;
#if defined(__AVX2__)
    if (nr == NR && rs == 1) {
      for (; p0 + 8 <= kc; p0 += 8)
        for (int64_t q0 = 0; q0 < NR; q0 += 8) {
          __m256 r[8];
          for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(b + (j0 + q0 + i) * cs + p0);
          transpose8(r);
          for (int i = 0; i < 8; ++i) _mm256_storeu_ps(out + (p0 + i) * NR + q0, r[i]);
        }
    }
#endif
    out += p0 * NR;
    for (int64_t p = p0; p < kc; ++p)
      for (int64_t q = 0; q < NR; ++q) *out++ = q < nr ? b[p * rs + (j0 + q) * cs] : 0.0f;
  }
}

struct PackBuffers {
  float* a = nullptr;
  float* b = nullptr;
  PackBuffers() {
    a = static_cast<float*>(std::aligned_alloc(64, MC * KC * sizeof(float)));
    b = static_cast<float*>(std::aligned_alloc(64, KC * (NC + NR) * sizeof(float)));
  }
  ~PackBuffers() {
    std::free(a);
    std::free(b);
  }
};

PackBuffers& pack_buffers() {
  thread_local PackBuffers buf;
  return buf;
}

// The blocking and kernels above, for gemm_blocked.
struct F32Kernel {
  using In = float;
  using PackedA = float;
  using PackedB = float;
  static constexpr int64_t MR = cpu::MR, NR = cpu::NR, KC = cpu::KC, MC = cpu::MC, NC = cpu::NC;
  static constexpr auto pack_a = &cpu::pack_a, pack_b = &cpu::pack_b;
  static constexpr auto micro_kernel = &cpu::micro_kernel;
  static int64_t a_panel(int64_t ir, int64_t kc) { return ir * kc; }
  static int64_t b_panel(int64_t jr, int64_t kc) { return jr * kc; }
};

}  // namespace

void gemm(int64_t m, int64_t n, int64_t k, MatRef<const float> a, MatRef<const float> b, MatRef<float> c,
          bool accumulate, int threads) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) c.data[i * c.rs + j * c.cs] = 0.0f;
    return;
  }
  // Threads only pay off on enough work.
  split_over_threads(m, n, k, a, b, c, threads, MR, NR, 2e6,
                     [&](int64_t m2, int64_t n2, MatRef<const float> a2, MatRef<const float> b2, MatRef<float> c2) {
                       PackBuffers& buf = pack_buffers();
                       gemm_blocked<F32Kernel>(m2, n2, k, a2, b2, c2, accumulate, buf.a, buf.b);
                     });
}

}  // namespace ds::cpu
