#pragma once
// An elementwise primitive's PointwiseMath (op_def.h) built from its math functor, the same functor its CPU kernel
// runs: M()(n, out, in...) over contiguous arrays, or M(attrs) where the formula reads the op's attributes.
#include <type_traits>

#include <ds/ops/op_def.h>

namespace ds::cpu {

template <typename M> M make_math(const Attrs& a) {
  if constexpr (std::is_constructible_v<M, const Attrs&>) return M(a);
  else return M{};
}

// Operand types: Out for the output, In0 for input 0, C for the other inputs.
template <typename M, typename Out, typename In0, typename C, int NIn>
void pointwise_call(int64_t n, void* out, const void* const* in, const Attrs& attrs) {
  const M m = make_math<M>(attrs);
  Out* o = static_cast<Out*>(out);
  if constexpr (NIn == 1) m(n, o, static_cast<const In0*>(in[0]));
  else if constexpr (NIn == 2) m(n, o, static_cast<const In0*>(in[0]), static_cast<const C*>(in[1]));
  else m(n, o, static_cast<const In0*>(in[0]), static_cast<const C*>(in[1]), static_cast<const C*>(in[2]));
}

// Every operand in the compute type.
template <typename M, int NIn> constexpr PointwiseMath pointwise_math(bool exact) {
  return {&pointwise_call<M, float, float, float, NIn>, &pointwise_call<M, double, double, double, NIn>, exact};
}
// Comparisons: a bool output.
template <typename M> constexpr PointwiseMath compare_math() {
  return {&pointwise_call<M, bool, float, float, 2>, &pointwise_call<M, bool, double, double, 2>, true};
}
// where: a bool condition first.
template <typename M> constexpr PointwiseMath select_math() {
  return {&pointwise_call<M, float, bool, float, 3>, &pointwise_call<M, double, bool, double, 3>, true};
}

}  // namespace ds::cpu
