#pragma once
// Helpers of the graph tests: a function traced on given arguments, and seeded random inputs.
#include <type_traits>
#include <vector>

#include <ds/ds.h>
#include <ds/graph/trace.h>

namespace ds::graph::testing {

// The graph of f(xs); f returns a Tensor or a TensorList.
template <typename F>
Graph trace_of(const std::vector<Tensor>& xs, F f) {
  Tracer t(xs);
  if constexpr (std::is_same_v<std::invoke_result_t<F, const std::vector<Tensor>&>, Tensor>) {
    const Tensor y = f(xs);
    return t.finish({&y, 1});
  } else {
    const TensorList ys = f(xs);
    return t.finish(ys);
  }
}

inline Tensor randn_of(IntArrayRef shape, uint64_t seed, DType dt = kF32) {
  Generator g(seed);
  return randn(shape, {.dtype = dt}, &g);
}

}  // namespace ds::graph::testing
