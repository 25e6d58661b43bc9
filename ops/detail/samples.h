#pragma once
// Sample-input recipes for the op rows' test facts (internal): small random tensors, drawn from a seed so every run
// sees the same values, in contiguous, transposed (non-contiguous), broadcast and 0-d forms.
#include <functional>
#include <vector>

#include <ds/ops/op_def.h>

namespace ds::samples {

// Values uniform in [lo, hi) (integers: whole numbers in [lo, hi)), of dtype dt.
Tensor uniform(IntArrayRef shape, DType dt, double lo, double hi, uint64_t seed);
// A 2-d tensor of `shape` that is a transposed view of its storage (not contiguous).
Tensor transposed(IntArrayRef shape, DType dt, double lo, double hi, uint64_t seed);
// A tensor of `shape` whose last dimension has stride 2 (a strided slice of a wider tensor).
Tensor strided(IntArrayRef shape, DType dt, double lo, double hi, uint64_t seed);

using Fn1 = std::function<Tensor(const Tensor&)>;
using Fn2 = std::function<Tensor(const Tensor&, const Tensor&)>;
// Unary elementwise cases: contiguous, transposed, strided, 0-d, with values in [lo, hi).
std::vector<OpCase> unary(DType dt, double lo, double hi, Fn1 f);
// Binary elementwise cases: same shape, broadcast both ways, with a 0-d operand, non-contiguous operands.
// integer_valued draws whole numbers (so comparisons see ties).
std::vector<OpCase> binary(DType dt, double lo, double hi, double lo2, double hi2, Fn2 f, bool integer_valued = false);

// A case from explicit inputs and a function of them.
OpCase make(std::string label, TensorList inputs, std::function<TensorList(const TensorList&)> fn,
            uint32_t grad_inputs = ~0u);
OpCase make1(std::string label, TensorList inputs, std::function<Tensor(const TensorList&)> fn,
             uint32_t grad_inputs = ~0u);
// A bad case: fn must throw ds::Error whose message contains `message`.
BadCase bad(std::string label, std::function<void()> fn, std::string message);

}  // namespace ds::samples
