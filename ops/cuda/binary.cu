// CUDA kernels of the binary and ternary elementwise primitives (the CPU kernels' formulas, ops/cpu/binary.cpp).
// a, b: broadcast to out's shape, any strides, one dtype (the rule casts them), or CPU scalars -> out.
#include "kernels.h"
#include "loops.cuh"
#include "math.cuh"

namespace ds::cuda {
namespace {

template <typename Op>
void float_binary(const KernelCtx& c, Op op) {
  visit_float(c.in[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    elementwise<S, S, S>(c, op);
  });
}
// Numbers, and bool with its own meaning of the op (add is or, mul is and).
template <typename Op, typename BoolOp>
void arith(const KernelCtx& c, Op op, BoolOp on_bool) {
  if (c.in[0].dtype() == kBool) return elementwise<bool, bool, bool>(c, on_bool);
  visit_number(c.in[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    elementwise<S, S, S>(c, op);
  });
}
// Any input dtype, bool output.
template <typename Op>
void compare(const KernelCtx& c, Op op) {
  visit_all(c.in[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    elementwise<bool, S, S>(c, op);
  });
}

#define DS_BINARY_FUNCTOR(Name, expr)                                           \
  struct Name {                                                                \
    template <typename C>                                                      \
    __device__ __forceinline__ auto operator()(C a, C b) const { return (expr); } \
  };
DS_BINARY_FUNCTOR(Add, static_cast<C>(a + b))
DS_BINARY_FUNCTOR(Sub, static_cast<C>(a - b))
DS_BINARY_FUNCTOR(Mul, static_cast<C>(a * b))
DS_BINARY_FUNCTOR(Div, a / b)
DS_BINARY_FUNCTOR(Pow, m::pow(a, b))
DS_BINARY_FUNCTOR(Or, a || b)
DS_BINARY_FUNCTOR(And, a && b)
// NaN propagates, like torch.maximum.
DS_BINARY_FUNCTOR(Maximum, (a > b || a != a) ? a : b)
DS_BINARY_FUNCTOR(Minimum, (a < b || a != a) ? a : b)
DS_BINARY_FUNCTOR(Eq, a == b)
DS_BINARY_FUNCTOR(Ne, a != b)
DS_BINARY_FUNCTOR(Lt, a < b)
DS_BINARY_FUNCTOR(Le, a <= b)
DS_BINARY_FUNCTOR(Gt, a > b)
DS_BINARY_FUNCTOR(Ge, a >= b)
#undef DS_BINARY_FUNCTOR

struct Where {
  template <typename C>
  __device__ __forceinline__ C operator()(bool cond, C a, C b) const { return cond ? a : b; }
};

// g * gelu'(x): the tanh approximation's derivative, or the erf form's Phi(x) + x phi(x).
struct GeluBackward {
  bool tanh_form;
  template <typename C>
  __device__ __forceinline__ C operator()(C g, C x) const {
    if (tanh_form) {
      const C k = C(0.7978845608028654), k3 = C(0.044715 * 0.7978845608028654);
      const C t = m::tanh(x * (k + k3 * x * x));
      return g * (C(0.5) * (C(1) + t) + C(0.5) * x * (C(1) - t * t) * (k + C(3) * k3 * x * x));
    }
    return g * (C(0.5) * (C(1) + m::erf(x * C(0.7071067811865476))) +
                x * m::exp(x * x * C(-0.5)) * C(0.3989422804014327));
  }
};

}  // namespace

void add(const KernelCtx& c) { arith(c, Add{}, Or{}); }
void sub(const KernelCtx& c) {
  visit_number(c.in[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    elementwise<S, S, S>(c, Sub{});
  });
}
void mul(const KernelCtx& c) { arith(c, Mul{}, And{}); }
void div(const KernelCtx& c) { float_binary(c, Div{}); }
void pow(const KernelCtx& c) { float_binary(c, Pow{}); }
void maximum(const KernelCtx& c) { arith(c, Maximum{}, Or{}); }
void minimum(const KernelCtx& c) { arith(c, Minimum{}, And{}); }
void eq(const KernelCtx& c) { compare(c, Eq{}); }
void ne(const KernelCtx& c) { compare(c, Ne{}); }
void lt(const KernelCtx& c) { compare(c, Lt{}); }
void le(const KernelCtx& c) { compare(c, Le{}); }
void gt(const KernelCtx& c) { compare(c, Gt{}); }
void ge(const KernelCtx& c) { compare(c, Ge{}); }
void logical_and(const KernelCtx& c) { elementwise<bool, bool, bool>(c, And{}); }
void logical_or(const KernelCtx& c) { elementwise<bool, bool, bool>(c, Or{}); }

// cond: bool; a, b: one dtype -> out: that dtype. Values move through their compute type, which holds every value
// of the storage type exactly.
void where(const KernelCtx& c) {
  visit_all(c.in[1].dtype(), [&](auto tag) {
    using S = decltype(tag);
    elementwise<S, bool, S, S>(c, Where{});
  });
}

void gelu_backward(const KernelCtx& c) { float_binary(c, GeluBackward{c.attrs.get<GeluAttrs>().tanh}); }

}  // namespace ds::cuda
