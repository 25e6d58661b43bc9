#include "detail/samples.h"

#include <ds/ops/factory.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/shape_ops.h>

namespace ds::samples {

Tensor uniform(IntArrayRef shape, DType dt, double lo, double hi, uint64_t seed) {
  Generator g(seed);
  Tensor u = rand(shape, {.dtype = kF64}, &g) * (hi - lo) + lo;
  if (is_integral(dt, true)) u = floor(u);
  return u.to(dt);
}

Tensor transposed(IntArrayRef shape, DType dt, double lo, double hi, uint64_t seed) {
  return uniform({shape[1], shape[0]}, dt, lo, hi, seed).t();
}

Tensor strided(IntArrayRef shape, DType dt, double lo, double hi, uint64_t seed) {
  Shape wide = shape.vec();
  wide.back() *= 2;
  return uniform(wide, dt, lo, hi, seed).slice(-1, 0, std::nullopt, 2);
}

OpCase make(std::string label, TensorList inputs, std::function<TensorList(const TensorList&)> fn,
            uint32_t grad_inputs) {
  return OpCase{std::move(label), std::move(inputs), std::move(fn), grad_inputs, {}};
}

OpCase make1(std::string label, TensorList inputs, std::function<Tensor(const TensorList&)> fn,
             uint32_t grad_inputs) {
  return make(std::move(label), std::move(inputs),
              [fn = std::move(fn)](const TensorList& x) { return TensorList{fn(x)}; }, grad_inputs);
}

BadCase bad(std::string label, std::function<void()> fn, std::string message) {
  return BadCase{std::move(label), std::move(fn), std::move(message)};
}

std::vector<OpCase> unary(DType dt, double lo, double hi, Fn1 f) {
  auto g = [f](const TensorList& x) { return f(x[0]); };
  return {
      make1("contiguous [3, 4]", {uniform({3, 4}, dt, lo, hi, 1)}, g),
      make1("transposed [4, 3]", {transposed({4, 3}, dt, lo, hi, 2)}, g),
      make1("strided [2, 3]", {strided({2, 3}, dt, lo, hi, 3)}, g),
      make1("0-d", {uniform({}, dt, lo, hi, 4)}, g),
  };
}

std::vector<OpCase> binary(DType dt, double lo, double hi, double lo2, double hi2, Fn2 f, bool integer_valued) {
  auto g = [f](const TensorList& x) { return f(x[0], x[1]); };
  auto u = [&](IntArrayRef s, int which, uint64_t seed) {
    Tensor t = which == 0 ? uniform(s, kF64, lo, hi, seed) : uniform(s, kF64, lo2, hi2, seed);
    if (integer_valued) t = floor(t);
    return t.to(dt);
  };
  return {
      make1("same shape [3, 4]", {u({3, 4}, 0, 1), u({3, 4}, 1, 2)}, g),
      make1("broadcast [3, 1] with [1, 4]", {u({3, 1}, 0, 3), u({1, 4}, 1, 4)}, g),
      make1("broadcast [2, 3, 4] with [4]", {u({2, 3, 4}, 0, 5), u({4}, 1, 6)}, g),
      make1("0-d with [3]", {u({}, 0, 7), u({3}, 1, 8)}, g),
      make1("transposed with contiguous", {u({4, 3}, 0, 9).t(), u({3, 4}, 1, 10)}, g),
  };
}

}  // namespace ds::samples
