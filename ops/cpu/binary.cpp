// CPU kernels of the binary and ternary elementwise primitives. a, b: broadcast to out's shape, any strides, one
// dtype (the rule casts them) -> out.
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <unsupported/Eigen/SpecialFunctions>

#include "kernels.h"
#include "loops.h"
#include "pointwise.h"

namespace ds::cpu {
namespace {

// x where c (0 or 1) else y, by masks on the bits (branch-free, so it vectorises; values are moved, not computed).
template <typename U> U select_bits(uint8_t c, U x, U y) {
  const U mask = static_cast<U>(-static_cast<U>(c));
  return static_cast<U>((x & mask) | (y & static_cast<U>(~mask)));
}

template <typename M>
void float_binary(const KernelCtx& c, M&& math) {
  visit_float(c.in[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    map_elementwise<S, S, 2>(c, [&](int64_t n, C* o, const C* a, const C* b) { math(n, o, a, b); });
  });
}
template <typename M>
void number_binary(const KernelCtx& c, M&& math) {
  visit_number(c.in[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    map_elementwise<S, S, 2>(c, [&](int64_t n, C* o, const C* a, const C* b) { math(n, o, a, b); });
  });
}
// Comparisons: any input dtype, bool output; m(n, bool* out, const C* a, const C* b).
template <typename M>
void compare(const KernelCtx& c, const M& m) {
  visit_all(c.in[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    map_elementwise<bool, S, 2>(c, [&](int64_t n, bool* o, const C* a, const C* b) { m(n, o, a, b); });
  });
}
// Arithmetic that also accepts bool (add is or, mul is and).
template <typename M, typename B>
void arith(const KernelCtx& c, M&& math, B&& on_bool) {
  if (c.in[0].dtype() == kBool) {
    map_elementwise<bool, bool, 2>(c, [&](int64_t n, bool* o, const bool* a, const bool* b) {
      for (int64_t i = 0; i < n; ++i) o[i] = on_bool(a[i], b[i]);
    });
    return;
  }
  number_binary(c, math);
}

}  // namespace

// Each formula is a functor over contiguous arrays (see unary.cpp): the kernel and <op>_pointwise share it.
#define DS_BINARY_MATH(op, expr)                                                                                \
  namespace {                                                                                                   \
  struct op##_math {                                                                                            \
    template <typename C> void operator()(int64_t n, C* o, const C* a, const C* b) const { vec(o, n) = (expr); } \
  };                                                                                                            \
  }                                                                                                             \
  const PointwiseMath op##_pointwise = pointwise_math<op##_math, 2>(true);
DS_BINARY_MATH(add, vec(a, n) + vec(b, n))
DS_BINARY_MATH(sub, vec(a, n) - vec(b, n))
DS_BINARY_MATH(mul, vec(a, n) * vec(b, n))
DS_BINARY_MATH(div, vec(a, n) / vec(b, n))
#undef DS_BINARY_MATH

namespace {
struct pow_math {
  template <typename C> void operator()(int64_t n, C* o, const C* a, const C* b) const {
    for (int64_t i = 0; i < n; ++i) o[i] = std::pow(a[i], b[i]);
  }
};
// NaN propagates, like torch.maximum.
struct maximum_math {
  template <typename C> void operator()(int64_t n, C* o, const C* a, const C* b) const {
    for (int64_t i = 0; i < n; ++i) o[i] = (a[i] > b[i] || a[i] != a[i]) ? a[i] : b[i];
  }
};
struct minimum_math {
  template <typename C> void operator()(int64_t n, C* o, const C* a, const C* b) const {
    for (int64_t i = 0; i < n; ++i) o[i] = (a[i] < b[i] || a[i] != a[i]) ? a[i] : b[i];
  }
};
}  // namespace
// std::pow is one libm call per element in the kernel and in a fused group alike.
const PointwiseMath pow_pointwise = pointwise_math<pow_math, 2>(true);
const PointwiseMath maximum_pointwise = pointwise_math<maximum_math, 2>(true);
const PointwiseMath minimum_pointwise = pointwise_math<minimum_math, 2>(true);

void add(const KernelCtx& c) { arith(c, add_math{}, [](bool x, bool y) { return x || y; }); }
void sub(const KernelCtx& c) { number_binary(c, sub_math{}); }
void mul(const KernelCtx& c) { arith(c, mul_math{}, [](bool x, bool y) { return x && y; }); }
void div(const KernelCtx& c) { float_binary(c, div_math{}); }
void pow(const KernelCtx& c) { float_binary(c, pow_math{}); }
void maximum(const KernelCtx& c) { arith(c, maximum_math{}, [](bool x, bool y) { return x || y; }); }
void minimum(const KernelCtx& c) { arith(c, minimum_math{}, [](bool x, bool y) { return x && y; }); }

#define DS_COMPARE(op, expr)                                                                   \
  namespace {                                                                                  \
  struct op##_math {                                                                           \
    template <typename C> void operator()(int64_t n, bool* o, const C* a, const C* b) const { \
      for (int64_t i = 0; i < n; ++i) o[i] = (expr);                                           \
    }                                                                                          \
  };                                                                                           \
  }                                                                                            \
  void op(const KernelCtx& c) { compare(c, op##_math{}); }
DS_COMPARE(eq, a[i] == b[i])
DS_COMPARE(ne, a[i] != b[i])
DS_COMPARE(lt, a[i] < b[i])
DS_COMPARE(le, a[i] <= b[i])
DS_COMPARE(gt, a[i] > b[i])
DS_COMPARE(ge, a[i] >= b[i])
DS_COMPARE(logical_and, bool(a[i]) && bool(b[i]))
DS_COMPARE(logical_or, bool(a[i]) || bool(b[i]))
#undef DS_COMPARE
const PointwiseMath eq_pointwise = compare_math<eq_math>();
const PointwiseMath ne_pointwise = compare_math<ne_math>();
const PointwiseMath lt_pointwise = compare_math<lt_math>();
const PointwiseMath le_pointwise = compare_math<le_math>();
const PointwiseMath gt_pointwise = compare_math<gt_math>();
const PointwiseMath ge_pointwise = compare_math<ge_math>();

// cond: bool; a, b: one dtype; all broadcast to out. Elements are moved as they are (no arithmetic), so the loop
// works on the storage type directly.
void where(const KernelCtx& c) {
  visit_all(c.in[1].dtype(), [&](auto tag) {
    using S = decltype(tag);
    const StridedIter<4> it({&c.out[0], &c.in[0], &c.in[1], &c.in[2]});
    parallel_for(it.numel, kGrain, [&](int64_t begin, int64_t end) {
      it.for_each_run(begin, end, [&](const std::array<char*, 4>& p, const std::array<int64_t, 4>& st, int64_t n) {
        // Contiguous runs with contiguous or 0-d branches (relu's vjp: where(y > 0, g, 0)) select with bit masks,
        // which vectorises; a `?:` or a pointer chosen per element is a branch that random masks mispredict.
        constexpr int64_t e = sizeof(S);
        if (st[0] == e && st[1] == 1 && (st[2] == e || st[2] == 0) && (st[3] == e || st[3] == 0)) {
          using U = std::conditional_t<e == 1, uint8_t, std::conditional_t<e == 2, uint16_t, std::conditional_t<e == 4, uint32_t, uint64_t>>>;
          static_assert(sizeof(U) == sizeof(S));
          U* o = reinterpret_cast<U*>(p[0]);
          const uint8_t* m = reinterpret_cast<const uint8_t*>(p[1]);  // bools are 0 or 1
          const U* a = reinterpret_cast<const U*>(p[2]);
          const U* b = reinterpret_cast<const U*>(p[3]);
          auto pick = [](uint8_t c, U x, U y) { return select_bits(c, x, y); };
          if (st[2] == e && st[3] == 0) {
            const U y = *b;
            for (int64_t i = 0; i < n; ++i) o[i] = pick(m[i], a[i], y);
          } else if (st[2] == e) {
            for (int64_t i = 0; i < n; ++i) o[i] = pick(m[i], a[i], b[i]);
          } else if (st[3] == e) {
            const U x = *a;
            for (int64_t i = 0; i < n; ++i) o[i] = pick(m[i], x, b[i]);
          } else {
            for (int64_t i = 0; i < n; ++i) o[i] = pick(m[i], *a, *b);
          }
          return;
        }
        for (int64_t i = 0; i < n; ++i) {
          const bool cond = *reinterpret_cast<const bool*>(p[1] + i * st[1]);
          const int k = cond ? 2 : 3;
          *reinterpret_cast<S*>(p[0] + i * st[0]) = *reinterpret_cast<const S*>(p[k] + i * st[k]);
        }
      });
    });
  });
}

namespace {
// where's formula for fused groups: the same selection of bits as the kernel above.
struct where_math {
  template <typename C> void operator()(int64_t n, C* o, const bool* m, const C* a, const C* b) const {
    using U = std::conditional_t<sizeof(C) == 4, uint32_t, uint64_t>;
    for (int64_t i = 0; i < n; ++i)
      o[i] = std::bit_cast<C>(select_bits(static_cast<uint8_t>(m[i]), std::bit_cast<U>(a[i]), std::bit_cast<U>(b[i])));
  }
};
}  // namespace
const PointwiseMath where_pointwise = select_math<where_math>();

// gelu_backward: in g, x -> g * gelu'(x). attrs: GeluAttrs, tanh (the approximation's derivative) or the erf
// form's, Phi(x) + x phi(x).
namespace {
struct gelu_backward_math {
  bool tanh_form;
  explicit gelu_backward_math(const Attrs& attrs) : tanh_form(attrs.get<GeluAttrs>().tanh) {}
  template <typename C> void operator()(int64_t n, C* o, const C* a, const C* b) const {
    std::vector<C> copy;  // the tanh form writes t into o, then reads g and x again
    if (tanh_form && (overlaps<C>(o, a, n) || overlaps<C>(o, b, n))) {
      copy.assign(a, a + n);
      copy.insert(copy.end(), b, b + n);
      a = copy.data(), b = copy.data() + n;
    }
    const auto g = vec(a, n);
    const auto x = vec(b, n);
    if (tanh_form) {
      const C k = C(0.7978845608028654), k3 = C(0.044715 * 0.7978845608028654);
      vec(o, n) = (x * (k + k3 * x.square())).tanh();  // t, then the derivative from it, element by element
      const auto t = vec(o, n);
      vec(o, n) = g * (C(0.5) * (C(1) + t) + C(0.5) * x * (C(1) - t.square()) * (k + C(3) * k3 * x.square()));
    } else {
      vec(o, n) = g * (C(0.5) * (C(1) + (x * C(0.7071067811865476)).erf()) +
                       x * (x.square() * C(-0.5)).exp() * C(0.3989422804014327));
    }
  }
};
}  // namespace
void gelu_backward(const KernelCtx& c) { float_binary(c, gelu_backward_math(c.attrs)); }
const PointwiseMath gelu_backward_pointwise = pointwise_math<gelu_backward_math, 2>(false);

}  // namespace ds::cpu
