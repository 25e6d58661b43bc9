// CPU kernels of the unary elementwise primitives: Eigen's vectorised array functions over the elementwise engine.
// x: any shape and strides -> out: same shape.
#include <cmath>

#include <unsupported/Eigen/SpecialFunctions>

#include "kernels.h"
#include "loops.h"

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

#define DS_FLOAT_UNARY(op, expr)                                                  \
  void op(const KernelCtx& c) {                                                   \
    float_unary(c, [](int64_t n, auto* o, const auto* a) {                          \
      using C [[maybe_unused]] = std::remove_cvref_t<decltype(*a)>;               \
      vec(o, n) = (expr);                                                         \
    });                                                                           \
  }
#define DS_NUMBER_UNARY(op, expr)                                                  \
  void op(const KernelCtx& c) {                                                    \
    number_unary(c, [](int64_t n, auto* o, const auto* a) { vec(o, n) = (expr); }); \
  }

DS_NUMBER_UNARY(neg, -vec(a, n))
DS_NUMBER_UNARY(abs, vec(a, n).abs())
// Eigen's vectorised exp clamps its argument at the edge of the normal range, so exp(-inf) would be 4e-39 instead
// of 0 (a masked softmax would leak weight to masked keys). Arguments below the clamp are redone exactly.
void exp(const KernelCtx& c) {
  float_unary(c, [](int64_t n, auto* o, const auto* a) {
    using C = std::remove_cvref_t<decltype(*a)>;
    constexpr C kClamp = std::is_same_v<C, float> ? C(-88.3762626647949) : C(-708.3964185322641);
    vec(o, n) = vec(a, n).exp();
    for (int64_t i = 0; i < n; ++i)
      if (a[i] < kClamp) [[unlikely]] o[i] = std::exp(a[i]);
  });
}
DS_FLOAT_UNARY(log, vec(a, n).log())
DS_FLOAT_UNARY(log1p, vec(a, n).log1p())
DS_FLOAT_UNARY(expm1, vec(a, n).expm1())
DS_FLOAT_UNARY(sqrt, vec(a, n).sqrt())
DS_FLOAT_UNARY(rsqrt, vec(a, n).rsqrt())
DS_FLOAT_UNARY(sin, vec(a, n).sin())
DS_FLOAT_UNARY(cos, vec(a, n).cos())
DS_FLOAT_UNARY(tanh, vec(a, n).tanh())
DS_FLOAT_UNARY(erf, vec(a, n).erf())
DS_FLOAT_UNARY(reciprocal, vec(a, n).inverse())
// 1 / (1 + e^-x): e^-x overflows to inf for very negative x, giving exactly 0, which is the right limit.
DS_FLOAT_UNARY(sigmoid, ((-vec(a, n)).exp() + C(1)).inverse())
#undef DS_FLOAT_UNARY


void relu(const KernelCtx& c) {
  number_unary(c, [](int64_t n, auto* o, const auto* a) {
    using C = std::remove_cv_t<std::remove_reference_t<decltype(*a)>>;
    for (int64_t i = 0; i < n; ++i) o[i] = a[i] > C(0) ? a[i] : C(0);  // NaN stays NaN, like torch.relu
  });
}

// floor, ceil and round (half to even, like torch.round) leave integers as they are.
#define DS_ROUNDING(op, method)                                                                      \
  void op(const KernelCtx& c) {                                                                      \
    number_unary(c, [](int64_t n, auto* o, const auto* a) {                                          \
      if constexpr (std::is_floating_point_v<std::remove_cvref_t<decltype(*a)>>) vec(o, n) = vec(a, n).method(); \
      else std::copy(a, a + n, o);                                                                   \
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
void pow_scalar(const KernelCtx& c) {
  const double e = c.attrs.get<PowScalarAttrs>().exponent.to_double();
  number_unary(c, [&](int64_t n, auto* o, const auto* a) {
    using C = std::remove_cvref_t<decltype(*a)>;
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
  });
}

// ClampAttrs. NaN propagates (torch.clamp); the bounds are converted to the tensor's type.
void clamp(const KernelCtx& c) {
  const auto& a = c.attrs.get<ClampAttrs>();
  const bool has_lo = a.min.has_value(), has_hi = a.max.has_value();
  const double lo = a.min.value_or(0), hi = a.max.value_or(0);
  number_unary(c, [&](int64_t n, auto* o, const auto* a) {
    using C = std::remove_cvref_t<decltype(*a)>;
    const C l = static_cast<C>(lo), h = static_cast<C>(hi);
    for (int64_t i = 0; i < n; ++i) {
      C v = a[i];
      if (has_lo && v < l) v = l;
      if (has_hi && v > h) v = h;
      o[i] = v;
    }
  });
}

// x: bool (the rule casts) -> out: bool
void logical_not(const KernelCtx& c) {
  map_elementwise<bool, bool, 1>(c, [](int64_t n, bool* o, const bool* a) {
    for (int64_t i = 0; i < n; ++i) o[i] = !a[i];
  });
}

}  // namespace ds::cpu

namespace ds::cpu {

// gelu: GeluAttrs.tanh (GPT-2's approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))) or the erf form.
void gelu(const KernelCtx& c) {
  const bool tanh_form = c.attrs.get<GeluAttrs>().tanh;
  float_unary(c, [tanh_form](int64_t n, auto* o, const auto* a) {
    using C = std::remove_cvref_t<decltype(*a)>;
    const auto x = vec(a, n);
    if (tanh_form) {
      const C k = C(0.7978845608028654), k3 = C(0.044715 * 0.7978845608028654);
      vec(o, n) = C(0.5) * x * (C(1) + (x * (k + k3 * x.square())).tanh());
    } else {
      vec(o, n) = C(0.5) * x * (C(1) + (x * C(0.7071067811865476)).erf());
    }
  });
}

}  // namespace ds::cpu
