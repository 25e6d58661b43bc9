// CPU kernels of the reductions and cumsum. The input is seen as [outer, n, inner] (helpers.h): with inner == 1 each
// output reduces a contiguous row (vectorised, in fixed blocks so the result does not depend on the thread count);
// otherwise rows of `inner` values are accumulated elementwise.
#include <cmath>
#include <limits>
#include <vector>

#include "helpers.h"
#include "kernels.h"
#include "loops.h"

namespace ds::cpu {
namespace {

constexpr int64_t kBlock = 4096;

// The type values accumulate in: float for 16-bit and 32-bit floats, double, int64 for integers and bool.
template <typename S> struct acc_type { using type = int64_t; };
template <> struct acc_type<float> { using type = float; };
template <> struct acc_type<double> { using type = double; };
template <> struct acc_type<Half> { using type = float; };
template <> struct acc_type<BFloat16> { using type = float; };
template <typename S> using acc_t = typename acc_type<S>::type;

template <typename A> struct SumOp {
  static A init() { return A(0); }
  static A combine(A a, A b) { return a + b; }
  static A block(const A* p, int64_t n) { return vec(p, n).sum(); }
};
template <typename A> struct ProdOp {
  static A init() { return A(1); }
  static A combine(A a, A b) { return a * b; }
  static A block(const A* p, int64_t n) { return vec(p, n).prod(); }
};
template <typename A> A nan_max(A a, A b) {
  if constexpr (std::is_floating_point_v<A>) if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<A>::quiet_NaN();
  return a > b ? a : b;
}
template <typename A> A nan_min(A a, A b) {
  if constexpr (std::is_floating_point_v<A>) if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<A>::quiet_NaN();
  return a < b ? a : b;
}
template <typename A> struct MaxOp {
  static A init() { return std::numeric_limits<A>::lowest(); }
  static A combine(A a, A b) { return nan_max(a, b); }
  static A block(const A* p, int64_t n) {
    if constexpr (std::is_floating_point_v<A>) return vec(p, n).template maxCoeff<Eigen::PropagateNaN>();
    else return vec(p, n).maxCoeff();
  }
};
template <typename A> struct MinOp {
  static A init() { return std::numeric_limits<A>::max(); }
  static A combine(A a, A b) { return nan_min(a, b); }
  static A block(const A* p, int64_t n) {
    if constexpr (std::is_floating_point_v<A>) return vec(p, n).template minCoeff<Eigen::PropagateNaN>();
    else return vec(p, n).minCoeff();
  }
};

// The value of one contiguous row of n elements, reduced in blocks of kBlock.
template <typename S, typename A, typename Op>
A reduce_row(const S* row, int64_t n) {
  A acc = Op::init();
  alignas(64) A buf[kBlock];
  for (int64_t off = 0; off < n; off += kBlock) {
    const int64_t m = std::min(kBlock, n - off);
    const A* p;
    if constexpr (std::is_same_v<S, A>) {
      p = row + off;
    } else {
      for (int64_t i = 0; i < m; ++i) buf[i] = static_cast<A>(row[off + i]);
      p = buf;
    }
    acc = Op::combine(acc, Op::block(p, m));
  }
  return acc;
}

template <typename S, typename O, template <typename> class OpT>
void reduce_kernel(const KernelCtx& c) {
  using A = acc_t<S>;
  using Op = OpT<A>;
  const ReduceGeom g = reduce_geometry(c.in[0], c.attrs.get<ReduceAttrs>().dims);
  O* out = static_cast<O*>(c.out[0].data());
  const S* src = static_cast<const S*>(g.src.data());
  const int64_t outer = g.outer, n = g.n, inner = g.inner;
  if (inner == 1) {
    if (outer == 1 && n > 2 * kBlock) {  // one long row: blocks in parallel, combined in a fixed order
      const int64_t nb = (n + kBlock - 1) / kBlock;
      std::vector<A> part(static_cast<size_t>(nb));
      parallel_for(nb, 4, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
          part[static_cast<size_t>(i)] = reduce_row<S, A, Op>(src + i * kBlock, std::min(kBlock, n - i * kBlock));
      });
      A acc = Op::init();
      for (A v : part) acc = Op::combine(acc, v);
      out[0] = static_cast<O>(acc);
      return;
    }
    parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) out[o] = static_cast<O>(reduce_row<S, A, Op>(src + o * n, n));
    });
    return;
  }
  // Columns: out[o, j] = reduce over r of src[o, r, j], accumulated in chunks of kChunk along j.
  const int64_t chunks = (inner + kChunk - 1) / kChunk;
  parallel_for(outer * chunks, std::max<int64_t>(1, kGrain / std::max<int64_t>(n * kChunk, 1)), [&](int64_t b, int64_t e) {
    alignas(64) A acc[kChunk];
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / chunks, j0 = (t % chunks) * kChunk, m = std::min(kChunk, inner - j0);
      std::fill(acc, acc + m, Op::init());
      for (int64_t r = 0; r < n; ++r) {
        const S* row = src + (o * n + r) * inner + j0;
        for (int64_t j = 0; j < m; ++j) acc[j] = Op::combine(acc[j], static_cast<A>(row[j]));
      }
      for (int64_t j = 0; j < m; ++j) out[o * inner + j0 + j] = static_cast<O>(acc[j]);
    }
  });
}

template <template <typename> class OpT>
void reduce_any(const KernelCtx& c, bool widen_ints) {
  visit_all(c.in[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    if constexpr (std::is_same_v<S, bool> || std::is_integral_v<S>) {
      if (widen_ints) return reduce_kernel<S, int64_t, OpT>(c);
      if constexpr (!std::is_same_v<S, bool>) return reduce_kernel<S, S, OpT>(c);
      throw_error(c.name, "is not defined for bool tensors");
    } else {
      reduce_kernel<S, S, OpT>(c);
    }
  });
}

// Values and first indices of the extreme along one dim. NaN counts as the extreme (torch.max).
template <bool IsMax>
void arg_extreme(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  const Shape dims = x.dim() ? Shape{wrap_dim(c.attrs.get<DimReduceAttrs>().dim, x.dim(), c.name)} : Shape{};
  visit_number(x.dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    using A = compute_t<S>;
    const ReduceGeom g = reduce_geometry(x, dims);
    const S* src = static_cast<const S*>(g.src.data());
    S* vals = static_cast<S*>(c.out[0].data());
    int64_t* idx = static_cast<int64_t*>(c.out[1].data());
    const int64_t n = g.n, inner = g.inner;
    parallel_for(g.outer * inner, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / inner, j = t % inner;
        const S* p = src + o * n * inner + j;
        A best = static_cast<A>(p[0]);
        int64_t bi = 0;
        for (int64_t r = 1; r < n; ++r) {
          const A v = static_cast<A>(p[r * inner]);
          bool take;
          if constexpr (std::is_floating_point_v<A>) {
            if (std::isnan(best)) break;
            take = std::isnan(v) || (IsMax ? v > best : v < best);
          } else {
            take = IsMax ? v > best : v < best;
          }
          if (take) {
            best = v;
            bi = r;
          }
        }
        vals[t] = static_cast<S>(best);
        idx[t] = bi;
      }
    });
  });
}

}  // namespace

void sum(const KernelCtx& c) { reduce_any<SumOp>(c, true); }
void prod(const KernelCtx& c) { reduce_any<ProdOp>(c, true); }
void amax(const KernelCtx& c) { reduce_any<MaxOp>(c, false); }
void amin(const KernelCtx& c) { reduce_any<MinOp>(c, false); }
void max_dim(const KernelCtx& c) { arg_extreme<true>(c); }
void min_dim(const KernelCtx& c) { arg_extreme<false>(c); }

// x: any -> out: same shape, running sum along dim (accumulated in float for 16-bit floats, int64 for integers).
void cumsum(const KernelCtx& c) {
  const Tensor& x = c.in[0];
  if (x.dim() == 0) {
    const Tensor in[1] = {x};
    Tensor outs[1] = {c.out[0]};
    const Attrs a = CopyAttrs{.dtype = c.out[0].dtype()};
    copy(KernelCtx{OpId::copy, "copy", in, outs, a});
    return;
  }
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name);
  visit_all(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    using A = acc_t<S>;
    using O = std::conditional_t<std::is_integral_v<S> || std::is_same_v<S, bool>, int64_t, S>;
    const Tensor src_t = contiguous_copy(x);
    const S* src = static_cast<const S*>(src_t.data());
    O* out = static_cast<O*>(c.out[0].data());
    const auto [outer, n, inner] = split_at(x, d);
    parallel_for(outer * inner, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / inner, j = t % inner;
        A run = 0;
        for (int64_t r = 0; r < n; ++r) {
          const int64_t at = (o * n + r) * inner + j;
          run += static_cast<A>(src[at]);
          out[at] = static_cast<O>(run);
        }
      }
    });
  });
}

}  // namespace ds::cpu
