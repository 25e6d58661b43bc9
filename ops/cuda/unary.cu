// CUDA kernels of the unary elementwise primitives, over the elementwise engine (loops.cuh). Each functor is the
// CPU kernel's formula (ops/cpu/unary.cpp) on compute-type values, so both devices agree to the last few ulp.
// x: any shape and strides -> out: same shape.
#include "kernels.h"
#include "loops.cuh"
#include "math.cuh"

namespace ds::cuda {
namespace {

template <typename Op>
void float_unary(const KernelCtx& c, Op op) {
  visit_float(c.in[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    elementwise<S, S>(c, op);
  });
}
template <typename Op>
void number_unary(const KernelCtx& c, Op op) {
  visit_number(c.in[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    elementwise<S, S>(c, op);
  });
}

#define DS_UNARY_FUNCTOR(Name, expr)                              \
  struct Name {                                                  \
    template <typename C>                                        \
    __device__ __forceinline__ C operator()(C a) const { return (expr); } \
  };
DS_UNARY_FUNCTOR(Neg, static_cast<C>(-a))
DS_UNARY_FUNCTOR(Abs, m::abs(a))
DS_UNARY_FUNCTOR(Exp, m::exp(a))
DS_UNARY_FUNCTOR(Log, m::log(a))
DS_UNARY_FUNCTOR(Log1p, m::log1p(a))
DS_UNARY_FUNCTOR(Expm1, m::expm1(a))
DS_UNARY_FUNCTOR(Sqrt, m::sqrt(a))
DS_UNARY_FUNCTOR(Rsqrt, C(1) / m::sqrt(a))
DS_UNARY_FUNCTOR(Sin, m::sin(a))
DS_UNARY_FUNCTOR(Cos, m::cos(a))
DS_UNARY_FUNCTOR(Tanh, m::tanh(a))
DS_UNARY_FUNCTOR(Erf, m::erf(a))
DS_UNARY_FUNCTOR(Reciprocal, C(1) / a)
// 1 / (1 + e^-x): e^-x overflows to inf for very negative x, giving exactly 0, the right limit.
DS_UNARY_FUNCTOR(Sigmoid, C(1) / (C(1) + m::exp(-a)))
// As the CPU kernel: NaN gives 0 (a > 0 is false).
DS_UNARY_FUNCTOR(Relu, a > C(0) ? a : C(0))
DS_UNARY_FUNCTOR(Floor, m::floor(a))
DS_UNARY_FUNCTOR(Ceil, m::ceil(a))
DS_UNARY_FUNCTOR(Round, m::rint(a))  // half to even, like torch.round
struct Sign {
  template <typename C>
  __device__ __forceinline__ C operator()(C a) const {
    if constexpr (std::is_unsigned_v<C>) return static_cast<C>(a != 0);
    else return static_cast<C>((C(0) < a) - (a < C(0)));
  }
};
DS_UNARY_FUNCTOR(LogicalNot, !a)
#undef DS_UNARY_FUNCTOR

struct PowScalar {
  double e;
  int64_t k;  // the exponent as an integer, for integer tensors
  template <typename C>
  __device__ __forceinline__ C operator()(C a) const {
    if constexpr (std::is_integral_v<C>) {
      C r = 1, b = a;
      for (int64_t p = k; p > 0; p >>= 1, b = static_cast<C>(b * b))
        if (p & 1) r = static_cast<C>(r * b);
      return r;
    } else {
      if (e == 2) return a * a;
      if (e == 3) return a * a * a;
      if (e == 0.5) return m::sqrt(a);
      if (e == -1) return C(1) / a;
      if (e == 1) return a;
      return m::pow(a, static_cast<C>(e));
    }
  }
};

// NaN propagates (comparisons with NaN are false); bounds converted to the tensor's type.
struct Clamp {
  bool has_lo, has_hi;
  double lo, hi;
  template <typename C>
  __device__ __forceinline__ C operator()(C v) const {
    if (has_lo && v < static_cast<C>(lo)) v = static_cast<C>(lo);
    if (has_hi && v > static_cast<C>(hi)) v = static_cast<C>(hi);
    return v;
  }
};

// gelu: the tanh form (GPT-2's) or the erf form.
struct Gelu {
  bool tanh_form;
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    if (tanh_form) {
      const C k = C(0.7978845608028654), k3 = C(0.044715 * 0.7978845608028654);
      return C(0.5) * x * (C(1) + m::tanh(x * (k + k3 * x * x)));
    }
    return C(0.5) * x * (C(1) + m::erf(x * C(0.7071067811865476)));
  }
};

}  // namespace

void neg(const KernelCtx& c) { number_unary(c, Neg{}); }
void abs(const KernelCtx& c) { number_unary(c, Abs{}); }
void exp(const KernelCtx& c) { float_unary(c, Exp{}); }
void log(const KernelCtx& c) { float_unary(c, Log{}); }
void log1p(const KernelCtx& c) { float_unary(c, Log1p{}); }
void expm1(const KernelCtx& c) { float_unary(c, Expm1{}); }
void sqrt(const KernelCtx& c) { float_unary(c, Sqrt{}); }
void rsqrt(const KernelCtx& c) { float_unary(c, Rsqrt{}); }
void sin(const KernelCtx& c) { float_unary(c, Sin{}); }
void cos(const KernelCtx& c) { float_unary(c, Cos{}); }
void tanh(const KernelCtx& c) { float_unary(c, Tanh{}); }
void erf(const KernelCtx& c) { float_unary(c, Erf{}); }
void reciprocal(const KernelCtx& c) { float_unary(c, Reciprocal{}); }
void sigmoid(const KernelCtx& c) { float_unary(c, Sigmoid{}); }
void relu(const KernelCtx& c) { number_unary(c, Relu{}); }
void floor(const KernelCtx& c) { number_unary(c, Floor{}); }
void ceil(const KernelCtx& c) { number_unary(c, Ceil{}); }
void round(const KernelCtx& c) { number_unary(c, Round{}); }
void sign(const KernelCtx& c) { number_unary(c, Sign{}); }
void logical_not(const KernelCtx& c) { elementwise<bool, bool>(c, LogicalNot{}); }

// PowScalarAttrs; integer tensors reach here with an integer exponent only (the rule makes them floating otherwise).
void pow_scalar(const KernelCtx& c) {
  const double e = c.attrs.get<PowScalarAttrs>().exponent.to_double();
  number_unary(c, PowScalar{e, static_cast<int64_t>(e)});
}

void clamp(const KernelCtx& c) {
  const auto& a = c.attrs.get<ClampAttrs>();
  number_unary(c, Clamp{a.min.has_value(), a.max.has_value(), a.min.value_or(0.0), a.max.value_or(0.0)});
}

void gelu(const KernelCtx& c) { float_unary(c, Gelu{c.attrs.get<GeluAttrs>().tanh}); }

}  // namespace ds::cuda
