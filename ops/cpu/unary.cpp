// CPU kernels of the unary elementwise primitives: Eigen's vectorised array functions over the elementwise engine.
// x: any shape and strides -> out: same shape.
#include <cmath>
#include <vector>

#include <unsupported/Eigen/SpecialFunctions>

#include "kernels.h"
#include "loops.h"
#include "pointwise.h"

namespace ds::cpu {
namespace {

// Runs `math(n, out, in)` for float dtypes (16-bit ones through float buffers).
template <typename M>
void float_unary(const KernelCtx& c, M&& math) {
  visit_float(c.in[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    map_elementwise<S, S, 1>(c, [&](int64_t n, compute_t<S>* o, const compute_t<S>* a) { math(n, o, a); });
  });
}
// The same over every numeric dtype.
template <typename M>
void number_unary(const KernelCtx& c, M&& math) {
  visit_number(c.in[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    map_elementwise<S, S, 1>(c, [&](int64_t n, compute_t<S>* o, const compute_t<S>* a) { math(n, o, a); });
  });
}

}  // namespace

// Each formula is a functor over contiguous arrays of the compute type: the kernel maps it over the elementwise
// engine, and <op>_pointwise hands the same functor to the graph compiler's fused groups.
#define DS_UNARY_MATH(op, expr)                                                                       \
  namespace {                                                                                         \
  struct op##_math {                                                                                  \
    template <typename C> void operator()(int64_t n, C* o, const C* a) const { vec(o, n) = (expr); } \
  };                                                                                                  \
  }
#define DS_FLOAT_UNARY(op, exact, expr)                           \
  DS_UNARY_MATH(op, expr)                                         \
  void op(const KernelCtx& c) { float_unary(c, op##_math{}); }    \
  const PointwiseMath op##_pointwise = pointwise_math<op##_math, 1>(exact);
#define DS_NUMBER_UNARY(op, exact, expr)                          \
  DS_UNARY_MATH(op, expr)                                         \
  void op(const KernelCtx& c) { number_unary(c, op##_math{}); }   \
  const PointwiseMath op##_pointwise = pointwise_math<op##_math, 1>(exact);

DS_NUMBER_UNARY(neg, true, -vec(a, n))
DS_NUMBER_UNARY(abs, true, vec(a, n).abs())
// Eigen's vectorised exp clamps its argument at the edge of the normal range, so exp(-inf) would be 4e-39 instead
// of 0 (a masked softmax would leak weight to masked keys). Arguments below the clamp are redone exactly.
namespace {
struct exp_math {
  template <typename C> void operator()(int64_t n, C* o, const C* a) const {
    constexpr C kClamp = std::is_same_v<C, float> ? C(-88.3762626647949) : C(-708.3964185322641);
    std::vector<C> copy;  // the fix-up reads a after o is written
    if (overlaps<C>(o, a, n)) {
      copy.assign(a, a + n);
      a = copy.data();
    }
    vec(o, n) = vec(a, n).exp();
    for (int64_t i = 0; i < n; ++i)
      if (a[i] < kClamp) [[unlikely]] o[i] = std::exp(a[i]);
  }
};
}  // namespace
void exp(const KernelCtx& c) { float_unary(c, exp_math{}); }
const PointwiseMath exp_pointwise = pointwise_math<exp_math, 1>(false);
DS_FLOAT_UNARY(log, false, vec(a, n).log())
DS_FLOAT_UNARY(log1p, false, vec(a, n).log1p())
DS_FLOAT_UNARY(expm1, false, vec(a, n).expm1())
DS_FLOAT_UNARY(sqrt, true, vec(a, n).sqrt())
DS_FLOAT_UNARY(rsqrt, false, vec(a, n).rsqrt())
DS_FLOAT_UNARY(sin, false, vec(a, n).sin())
DS_FLOAT_UNARY(cos, false, vec(a, n).cos())
DS_FLOAT_UNARY(tanh, false, vec(a, n).tanh())
DS_FLOAT_UNARY(erf, false, vec(a, n).erf())
DS_FLOAT_UNARY(reciprocal, true, vec(a, n).inverse())
// 1 / (1 + e^-x): e^-x overflows to inf for very negative x, giving exactly 0, which is the right limit.
DS_FLOAT_UNARY(sigmoid, false, ((-vec(a, n)).exp() + C(1)).inverse())
#undef DS_FLOAT_UNARY
#undef DS_NUMBER_UNARY
#undef DS_UNARY_MATH

namespace {
struct relu_math {
  template <typename C> void operator()(int64_t n, C* o, const C* a) const {
    for (int64_t i = 0; i < n; ++i) o[i] = a[i] > C(0) ? a[i] : C(0);  // NaN stays NaN, like torch.relu
  }
};
}  // namespace
void relu(const KernelCtx& c) { number_unary(c, relu_math{}); }
const PointwiseMath relu_pointwise = pointwise_math<relu_math, 1>(true);

// floor, ceil and round (half to even, like torch.round) leave integers as they are.
#define DS_ROUNDING(op, method)                                                                      \
  void op(const KernelCtx& c) {                                                                      \
    number_unary(c, [](int64_t n, auto* o, const auto* a) {                                          \
      if constexpr (std::is_floating_point_v<std::remove_cvref_t<decltype(*a)>>) vec(o, n) = vec(a, n).method(); \
      else if (o != a) std::copy(a, a + n, o);  /* integers are their own floor; in place: nothing */ \
    });                                                                                              \
  }
DS_ROUNDING(floor, floor)
DS_ROUNDING(ceil, ceil)
DS_ROUNDING(round, rint)
#undef DS_ROUNDING

void sign(const KernelCtx& c) {
  number_unary(c, [](int64_t n, auto* o, const auto* a) {
    using C = std::remove_cvref_t<decltype(*a)>;
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<C>((C(0) < a[i]) - (a[i] < C(0)));
  });
}

// PowScalarAttrs; integer tensors reach here with an integer exponent only (the rule makes them floating otherwise).
namespace {
struct pow_scalar_math {
  double e;
  explicit pow_scalar_math(const Attrs& attrs) : e(attrs.get<PowScalarAttrs>().exponent.to_double()) {}
  template <typename C> void operator()(int64_t n, C* o, const C* a) const {
    if constexpr (std::is_integral_v<C>) {
      const int64_t k = static_cast<int64_t>(e);
      for (int64_t i = 0; i < n; ++i) {
        C r = 1, b = a[i];
        for (int64_t p = k; p > 0; p >>= 1, b = static_cast<C>(b * b))
          if (p & 1) r = static_cast<C>(r * b);
        o[i] = r;
      }
    } else if (e == 2) {
      vec(o, n) = vec(a, n).square();
    } else if (e == 3) {
      vec(o, n) = vec(a, n).cube();
    } else if (e == 0.5) {
      vec(o, n) = vec(a, n).sqrt();
    } else if (e == -1) {
      vec(o, n) = vec(a, n).inverse();
    } else if (e == 1) {
      vec(o, n) = vec(a, n);
    } else {
      vec(o, n) = vec(a, n).pow(static_cast<C>(e));
    }
  }
};
}  // namespace
void pow_scalar(const KernelCtx& c) { number_unary(c, pow_scalar_math(c.attrs)); }
const PointwiseMath pow_scalar_pointwise = pointwise_math<pow_scalar_math, 1>(false);

// ClampAttrs. NaN propagates (torch.clamp); the bounds are converted to the tensor's type.
namespace {
struct clamp_math {
  bool has_lo, has_hi;
  double lo, hi;
  explicit clamp_math(const Attrs& attrs) {
    const auto& a = attrs.get<ClampAttrs>();
    has_lo = a.min.has_value(), has_hi = a.max.has_value();
    lo = a.min.value_or(0), hi = a.max.value_or(0);
  }
  template <typename C> void operator()(int64_t n, C* o, const C* a) const {
    const C l = static_cast<C>(lo), h = static_cast<C>(hi);
    for (int64_t i = 0; i < n; ++i) {
      C v = a[i];
      if (has_lo && v < l) v = l;
      if (has_hi && v > h) v = h;
      o[i] = v;
    }
  }
};
}  // namespace
void clamp(const KernelCtx& c) { number_unary(c, clamp_math(c.attrs)); }
const PointwiseMath clamp_pointwise = pointwise_math<clamp_math, 1>(true);

// x: bool (the rule casts) -> out: bool
void logical_not(const KernelCtx& c) {
  map_elementwise<bool, bool, 1>(c, [](int64_t n, bool* o, const bool* a) {
    for (int64_t i = 0; i < n; ++i) o[i] = !a[i];
  });
}

}  // namespace ds::cpu

namespace ds::cpu {

// gelu: GeluAttrs.tanh (GPT-2's approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))) or the erf form.
namespace {
struct gelu_math {
  bool tanh_form;
  explicit gelu_math(const Attrs& attrs) : tanh_form(attrs.get<GeluAttrs>().tanh) {}
  template <typename C> void operator()(int64_t n, C* o, const C* a) const {
    const auto x = vec(a, n);
    if (tanh_form) {
      const C k = C(0.7978845608028654), k3 = C(0.044715 * 0.7978845608028654);
      vec(o, n) = C(0.5) * x * (C(1) + (x * (k + k3 * x.square())).tanh());
    } else {
      vec(o, n) = C(0.5) * x * (C(1) + (x * C(0.7071067811865476)).erf());
    }
  }
};
}  // namespace
void gelu(const KernelCtx& c) { float_unary(c, gelu_math(c.attrs)); }
const PointwiseMath gelu_pointwise = pointwise_math<gelu_math, 1>(false);

}  // namespace ds::cpu
