// CPU kernels of scaled_dot_product_attention and its backward: FlashAttention-2's tiling (Dao, 2023) on the CPU.
//   q: (B, H, L, E), k: (B, H, S, E), v: (B, H, S, Ev) -> out (B, H, L, Ev), lse (B, H, L); 3-d inputs have B = 1.
// Inputs are read through their strides (the last dim contiguous, which the front function guarantees), so the
// heads of a (B, T, H, D) projection are used in place. Forward: per (b, h) and block of kBr query rows, key blocks
// of kBc columns: S = scale * Q K^T (+ mask), an online softmax (a running max m and sum l per row, earlier partial
// outputs rescaled by exp(m_old - m_new)) and O += P V. One block of scores is all that is ever stored, so memory is
// kBr * kBc per thread whatever the sequence length. lse = m + log(l) is saved; the backward recomputes
// P = exp(S - lse) block by block instead of storing the weights.
// Dropout drops entries of the normalised P with a counter-based mask: element (bh, i, j) draws word e % 4 of Philox
// counter offset + e / 4, e = (bh * L + i) * S + j, so the backward regenerates exactly the forward's mask. The
// Philox state (seed, offset) is the last input of both ops when dropout_p > 0 (ops/rng_input.h).
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ds/core/rng.h>

#include <ds/ops/rng_input.h>
#include "gemm.h"
#include "kernels.h"
#include "parallel.h"

namespace ds::cpu {
namespace {

constexpr int64_t kBr = 64, kBc = 256;

// Scratch blocks, aligned: Eigen's reductions over a Map start at the first aligned element, so a row sum over a
// malloc'ed buffer would add in an order that depends on where malloc put it, and a resumed run would drift from
// the straight one in the last bits.
template <typename T>
using Scratch = std::vector<T, Eigen::aligned_allocator<T>>;

// A (B, H, N, D) operand: row n of head bh = b * H + h at data + b * sb + h * sh + n * sn, its D elements contiguous.
template <typename T>
struct Heads {
  T* data;
  int64_t H, sb, sh, sn;
  T* row(int64_t bh, int64_t n) const { return data + (bh / H) * sb + (bh % H) * sh + n * sn; }
};
template <typename T>
Heads<T> heads(const Tensor& t) {
  const bool four = t.dim() == 4;
  return {static_cast<T*>(t.data()), four ? t.size(1) : t.size(0), four ? t.stride(0) : 0,
          four ? t.stride(1) : t.stride(0), t.stride(t.dim() - 2)};
}

// The mask broadcast to (B, H, L, S) through zero strides; M is bool or the score type.
template <typename M>
struct MaskView {
  const M* data = nullptr;
  int64_t H = 1, sb = 0, sh = 0, sl = 0, ss = 0;
  const M* row(int64_t bh, int64_t i) const { return data + (bh / H) * sb + (bh % H) * sh + i * sl; }
};
template <typename M>
MaskView<M> mask_view(const Tensor& m, int64_t H) {
  MaskView<M> v{static_cast<const M*>(m.data()), H};
  int64_t* st[4] = {&v.sb, &v.sh, &v.sl, &v.ss};
  for (int64_t d = 0; d < m.dim(); ++d)  // right-aligned against (B, H, L, S)
    *st[4 - m.dim() + d] = m.size(d) == 1 ? 0 : m.stride(d);
  return v;
}

template <typename T>
using Row = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstRow = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// Everything both passes need about one call.
template <typename T>
struct Problem {
  Heads<const T> q, k, v;
  int64_t BH, L, S, E, Ev;
  T scale;
  bool causal;
  double p;  // dropout probability
  uint64_t seed, offset;
  const Tensor* mask;  // null or the mask input
  MaskView<bool> bmask;
  MaskView<T> fmask;

  // The number of keys rows [i0, i0 + rows) may see: causal rows stop at their own index.
  int64_t key_end(int64_t i0, int64_t rows) const { return causal ? std::min(S, i0 + rows) : S; }

  // s (rows x cols, row stride kBc) = scale * Q[i0:] K[j0:]^T with the mask applied (-inf where not allowed).
  void scores(int64_t bh, int64_t i0, int64_t rows, int64_t j0, int64_t cols, T* s) const {
    gemm(rows, cols, E, {q.row(bh, i0), q.sn, 1}, {k.row(bh, j0), 1, k.sn}, {s, kBc, 1}, false, 1);
    constexpr T kNegInf = -std::numeric_limits<T>::infinity();
    for (int64_t r = 0; r < rows; ++r) {
      T* row = s + r * kBc;
      const int64_t i = i0 + r;
      for (int64_t c = 0; c < cols; ++c) row[c] *= scale;
      if (causal)
        for (int64_t c = std::max<int64_t>(0, i + 1 - j0); c < cols; ++c) row[c] = kNegInf;
      if (!mask) continue;
      if (mask->dtype() == kBool) {
        const bool* m = bmask.row(bh, i) + j0 * bmask.ss;
        for (int64_t c = 0; c < cols; ++c)
          if (!m[c * bmask.ss]) row[c] = kNegInf;
      } else {
        const T* m = fmask.row(bh, i) + j0 * fmask.ss;
        for (int64_t c = 0; c < cols; ++c) row[c] += m[c * fmask.ss];
      }
    }
  }

  // Multiplies row r of w (row stride kBc) by keep / (1 - p), the dropout mask of rows i0.., columns j0...
  void drop(int64_t bh, int64_t i0, int64_t rows, int64_t j0, int64_t cols, T* w) const {
    const T inv_keep = T(1) / T(1 - p);
    const float pf = static_cast<float>(p);
    for (int64_t r = 0; r < rows; ++r) {
      const uint64_t e0 = static_cast<uint64_t>((bh * L + i0 + r) * S + j0);
      uint64_t ctr = ~uint64_t{0};
      std::array<uint32_t, 4> words{};
      T* row = w + r * kBc;
      for (int64_t c = 0; c < cols; ++c) {
        const uint64_t e = e0 + static_cast<uint64_t>(c);
        if (e / 4 != ctr) words = philox::draw(seed, offset + (ctr = e / 4));
        row[c] = philox::to_unit_float(words[e % 4]) >= pf ? row[c] * inv_keep : T(0);
      }
    }
  }
};

template <typename T>
void attach_mask(Problem<T>& pb, const Tensor& m) {
  pb.mask = &m;
  if (m.dtype() == kBool) pb.bmask = mask_view<bool>(m, pb.q.H);
  else pb.fmask = mask_view<T>(m, pb.q.H);
}
// q, k, v, then the inputs after the fixed ones: [mask] [Philox state, with dropout].
template <typename T>
Problem<T> problem(const KernelCtx& c, std::span<const Tensor> qkv, std::span<const Tensor> extra) {
  const auto& a = c.attrs.get<AttentionAttrs>();
  const Tensor &q = qkv[0], &k = qkv[1], &v = qkv[2];
  const bool dropout = a.dropout_p > 0;
  const PhiloxState rng = dropout ? rng_input::read(extra.back()) : PhiloxState{};
  Problem<T> pb{heads<const T>(q), heads<const T>(k), heads<const T>(v), q.numel() / (q.size(-2) * q.size(-1)),
                q.size(-2), k.size(-2), q.size(-1), v.size(-1), static_cast<T>(a.scale), a.is_causal,
                a.dropout_p, rng.seed, rng.offset, nullptr, {}, {}};
  if (extra.size() > (dropout ? 1u : 0u)) attach_mask(pb, extra[0]);
  return pb;
}

template <typename T>
void forward(const KernelCtx& c) {
  const Problem<T> pb = problem<T>(c, c.in.subspan(0, 3), c.in.subspan(3));
  T* out = static_cast<T*>(c.out[0].data());
  T* lse = static_cast<T*>(c.out[1].data());
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  const int64_t blocks = (pb.L + kBr - 1) / kBr;
  parallel_for(pb.BH * blocks, 1, [&](int64_t lo, int64_t hi) {
    Scratch<T> s(kBr * kBc), m(kBr), l(kBr);
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t bh = task / blocks, i0 = (task % blocks) * kBr, rows = std::min(kBr, pb.L - i0);
      T* o = out + (bh * pb.L + i0) * pb.Ev;
      std::fill(o, o + rows * pb.Ev, T(0));
      std::fill(m.begin(), m.end(), kNegInf);
      std::fill(l.begin(), l.end(), T(0));
      const int64_t jend = pb.key_end(i0, rows);
      for (int64_t j0 = 0; j0 < jend; j0 += kBc) {
        const int64_t cols = std::min(kBc, jend - j0);
        pb.scores(bh, i0, rows, j0, cols, s.data());
        for (int64_t r = 0; r < rows; ++r) {
          Row<T> row(s.data() + r * kBc, cols);
          const T m_new = std::max(m[r], row.maxCoeff());
          if (m_new == kNegInf) {  // nothing to attend to yet
            row.setZero();
            continue;
          }
          // Eigen's exp clamps -inf to a tiny positive number, so masked entries are zeroed explicitly.
          row = (row == kNegInf).select(T(0), (row - m_new).exp());
          const T alpha = std::exp(m[r] - m_new);
          l[r] = l[r] * alpha + row.sum();
          if (alpha != T(1)) Row<T>(o + r * pb.Ev, pb.Ev) *= alpha;
          m[r] = m_new;
        }
        if (pb.p > 0) pb.drop(bh, i0, rows, j0, cols, s.data());
        gemm(rows, pb.Ev, cols, {s.data(), kBc, 1}, {pb.v.row(bh, j0), pb.v.sn, 1}, {o, pb.Ev, 1}, true, 1);
      }
      for (int64_t r = 0; r < rows; ++r) {
        const bool any = l[r] > T(0);
        Row<T>(o + r * pb.Ev, pb.Ev) *= any ? T(1) / l[r] : T(0);
        lse[bh * pb.L + i0 + r] = any ? m[r] + std::log(l[r]) : kNegInf;
      }
    }
  });
}

// in: grad_out, q, k, v, out, lse [, mask] [, Philox state] -> dq, dk, dv. One task per (b, h): it owns that head's
// dq, dk and dv, so the accumulation needs no atomics and the result does not depend on the thread count.
template <typename T>
void backward(const KernelCtx& c) {
  const Problem<T> pb = problem<T>(c, c.in.subspan(1, 3), c.in.subspan(6));
  const Heads<const T> g = heads<const T>(c.in[0]);
  const T* out = static_cast<const T*>(c.in[4].data());
  const T* lse = static_cast<const T*>(c.in[5].data());
  T* dq = static_cast<T*>(c.out[0].data());
  T* dk = static_cast<T*>(c.out[1].data());
  T* dv = static_cast<T*>(c.out[2].data());
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  parallel_for(pb.BH, 1, [&](int64_t lo, int64_t hi) {
    Scratch<T> p(kBr * kBc), pd(kBr * kBc), dp(kBr * kBc), D(pb.L);
    for (int64_t bh = lo; bh < hi; ++bh) {
      T* dqh = dq + bh * pb.L * pb.E;
      T* dkh = dk + bh * pb.S * pb.E;
      T* dvh = dv + bh * pb.S * pb.Ev;
      std::fill(dqh, dqh + pb.L * pb.E, T(0));
      std::fill(dkh, dkh + pb.S * pb.E, T(0));
      std::fill(dvh, dvh + pb.S * pb.Ev, T(0));
      // D_i = dO_i . O_i = sum_j P_ij dP_ij: the softmax backward's row term.
      for (int64_t i = 0; i < pb.L; ++i)
        D[i] = (ConstRow<T>(g.row(bh, i), pb.Ev) * ConstRow<T>(out + (bh * pb.L + i) * pb.Ev, pb.Ev)).sum();
      for (int64_t i0 = 0; i0 < pb.L; i0 += kBr) {
        const int64_t rows = std::min(kBr, pb.L - i0), jend = pb.key_end(i0, rows);
        for (int64_t j0 = 0; j0 < jend; j0 += kBc) {
          const int64_t cols = std::min(kBc, jend - j0);
          pb.scores(bh, i0, rows, j0, cols, p.data());
          for (int64_t r = 0; r < rows; ++r) {
            Row<T> row(p.data() + r * kBc, cols);
            const T lr = lse[bh * pb.L + i0 + r];
            if (lr == kNegInf) row.setZero();
            else row = (row == kNegInf).select(T(0), (row - lr).exp());
          }
          const T* w = p.data();  // the weights as the forward applied them (dropped or not)
          if (pb.p > 0) {
            for (int64_t r = 0; r < rows; ++r) std::copy_n(p.data() + r * kBc, cols, pd.data() + r * kBc);
            pb.drop(bh, i0, rows, j0, cols, pd.data());
            w = pd.data();
          }
          // dV[j0:] += W^T dO[i0:];  dP = dO V[j0:]^T (through the dropout mask)
          gemm(cols, pb.Ev, rows, {w, 1, kBc}, {g.row(bh, i0), g.sn, 1}, {dvh + j0 * pb.Ev, pb.Ev, 1}, true, 1);
          gemm(rows, cols, pb.Ev, {g.row(bh, i0), g.sn, 1}, {pb.v.row(bh, j0), 1, pb.v.sn}, {dp.data(), kBc, 1}, false, 1);
          if (pb.p > 0) pb.drop(bh, i0, rows, j0, cols, dp.data());
          // dS = P * (dP - D) * scale, then dQ[i0:] += dS K[j0:], dK[j0:] += dS^T Q[i0:]
          for (int64_t r = 0; r < rows; ++r) {
            Row<T> ds(dp.data() + r * kBc, cols);
            ds = Row<T>(p.data() + r * kBc, cols) * (ds - D[i0 + r]) * pb.scale;
          }
          gemm(rows, pb.E, cols, {dp.data(), kBc, 1}, {pb.k.row(bh, j0), pb.k.sn, 1}, {dqh + i0 * pb.E, pb.E, 1}, true, 1);
          gemm(cols, pb.E, rows, {dp.data(), 1, kBc}, {pb.q.row(bh, i0), pb.q.sn, 1}, {dkh + j0 * pb.E, pb.E, 1}, true, 1);
        }
      }
    }
  });
}

}  // namespace

void scaled_dot_product_attention(const KernelCtx& c) {
  if (c.in[0].dtype() == kF64) forward<double>(c);
  else forward<float>(c);
}

void scaled_dot_product_attention_backward(const KernelCtx& c) {
  if (c.in[0].dtype() == kF64) backward<double>(c);
  else backward<float>(c);
}

}  // namespace ds::cpu
