#pragma once
// What the float32 and bfloat16 GEMMs share (internal): BLIS's loop nest around a register-blocked micro-kernel,
// the split over threads, the merge of an edge tile computed aside, and the AVX-512 kernels' store.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "gemm.h"

namespace ds::cpu {

// C[mr x nr] (at c, strides rs and cs) = (beta ? C : 0) + the tile's top-left mr x nr (row stride ldt).
inline void merge_tile(const float* tile, int64_t ldt, float* c, int64_t rs, int64_t cs, int64_t mr, int64_t nr,
                       bool beta) {
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) {
      float& dst = c[i * rs + j * cs];
      dst = (beta ? dst : 0.0f) + tile[i * ldt + j];
    }
}

// Runs serial(m', n', a', b', c') on slices of C: one per thread, of rows (multiples of mr) or, when C is wider than
// tall and wide enough, of columns (multiples of nr): every thread packs all of B for its rows, so splitting rows of
// a short C (a weight gradient's 64 rows against 576 columns) packs B twice for little work each. Small products
// (under min_flops) and calls inside a parallel region run on the calling thread. Each element of C is computed by
// one thread in the same order, so the bits do not depend on the thread count.
template <typename T, typename Serial>
void split_over_threads(int64_t m, int64_t n, int64_t k, MatRef<const T> a, MatRef<const T> b, MatRef<float> c,
                        int threads, int64_t mr, int64_t nr, double min_flops, Serial serial) {
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  int t = std::max(1, threads);
  if (flops < min_flops || omp_in_parallel()) t = 1;
  if (t == 1) return serial(m, n, a, b, c);
  const bool by_rows = m >= n || n < t * 4 * nr;
  const int64_t extent = by_rows ? m : n, unit = by_rows ? mr : nr;
  const int64_t per = (extent + t * unit - 1) / (t * unit) * unit;
  const int parts = static_cast<int>((extent + per - 1) / per);
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; ++part) {
    const int64_t lo = part * per, len = std::min(per, extent - lo);
    if (by_rows)
      serial(len, n, MatRef<const T>{a.data + lo * a.rs, a.rs, a.cs}, b, MatRef<float>{c.data + lo * c.rs, c.rs, c.cs});
    else
      serial(m, len, a, MatRef<const T>{b.data + lo * b.cs, b.rs, b.cs}, MatRef<float>{c.data + lo * c.cs, c.rs, c.cs});
  }
}

// BLIS's loop nest: for each block of NC columns and KC k values, B's block is packed (L3), then for each block of
// MC rows A's block (L2), and the micro-kernel runs on every MR x NR tile with the B micro-panel outer, so it stays
// in L1 while A's panels stream from L2. K gives the blocking, the packed element types, the packing, the
// micro-kernel (on a kc-long slice) and where panel ir of A and panel jr of B start in their buffers.
template <typename K>
void gemm_blocked(int64_t m, int64_t n, int64_t k, MatRef<const typename K::In> a, MatRef<const typename K::In> b,
                  MatRef<float> c, bool accumulate, typename K::PackedA* pa, typename K::PackedB* pb) {
  constexpr int64_t MR = K::MR, NR = K::NR;
  alignas(64) float tile[MR * NR];
  for (int64_t jc = 0; jc < n; jc += K::NC) {
    const int64_t nc = std::min(K::NC, n - jc);
    for (int64_t pc = 0; pc < k; pc += K::KC) {
      const int64_t kc = std::min(K::KC, k - pc);
      const bool beta = accumulate || pc > 0;
      K::pack_b(kc, nc, b.data + pc * b.rs + jc * b.cs, b.rs, b.cs, pb);
      for (int64_t ic = 0; ic < m; ic += K::MC) {
        const int64_t mc = std::min(K::MC, m - ic);
        K::pack_a(mc, kc, a.data + ic * a.rs + pc * a.cs, a.rs, a.cs, pa);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = std::min(NR, nc - jr);
          const typename K::PackedB* bp = pb + K::b_panel(jr, kc);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min(MR, mc - ir);
            const typename K::PackedA* ap = pa + K::a_panel(ir, kc);
            float* cij = c.data + (ic + ir) * c.rs + (jc + jr) * c.cs;
            if (c.cs == 1 && mr == MR && nr == NR) {
              K::micro_kernel(kc, ap, bp, cij, c.rs, beta);
              continue;
            }
            // Edge or strided C: compute the whole tile aside, then merge the valid part.
            K::micro_kernel(kc, ap, bp, tile, NR, false);
            merge_tile(tile, NR, cij, c.rs, c.cs, mr, nr, beta);
          }
        }
      }
    }
  }
}

#if defined(__x86_64__)
// r[0..7] (rows of 8 floats, or of 8 32-bit pairs of bf16) becomes its transpose: r[i][j] = old r[j][i]. For the
// packing of B whose columns are contiguous.
__attribute__((target("avx2"))) inline void transpose8(__m256 (&r)[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// The AVX-512 micro-kernels' last step: C[MR x 32] (row stride ldc) = (beta ? C : 0) + the accumulators (two
// 16-float vectors per row). Its own target attribute lets the bf16 kernel, built for any CPU, call it.
template <int64_t MR>
__attribute__((target("avx512f"))) inline void store_tile_avx512(__m512 (&acc)[MR][2], float* c, int64_t ldc,
                                                                  bool beta) {
  for (int64_t i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    if (beta) {
      acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(row));
      acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, acc[i][0]);
    _mm512_storeu_ps(row + 16, acc[i][1]);
  }
}
#endif

}  // namespace ds::cpu
