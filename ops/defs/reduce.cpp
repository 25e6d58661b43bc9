// Rows and front functions of the reduction primitives (sum, prod, amax, amin, max_dim, min_dim) and cumsum.
#include <cmath>

#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

// sum, prod, amax, amin attrs: ReduceAttrs (dims normalised, sorted; empty = all)
void reduce_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  const Tensor& x = c.in[0];
  const auto& a = c.attrs.get<ReduceAttrs>();
  const Shape dims = rules::normalize_dims(a.dims, x.dim(), c.name);
  DType out = x.dtype();
  if ((c.op == OpId::sum || c.op == OpId::prod) && is_integral(out, true)) out = kI64;
  if (c.op == OpId::amax || c.op == OpId::amin) {
    for (int64_t d : dims)
      DS_CHECK(x.sizes()[d] > 0, c.name, "cannot reduce over dimension {} of size 0 (shape {}): no identity",
               d, shape_str(x.sizes()));
    DS_CHECK(x.dim() > 0 || x.numel() == 1, c.name, "empty input");
  }
  r.device = x.device();
  r.outs.push_back({rules::reduced_shape(x.sizes(), dims, a.keepdim), out});
}

// max_dim, min_dim attrs: DimReduceAttrs -> values, indices (int64)
void arg_reduce_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  const Tensor& x = c.in[0];
  const auto& a = c.attrs.get<DimReduceAttrs>();
  const int64_t d = wrap_dim(a.dim, x.dim(), c.name);
  DS_CHECK(x.dim() == 0 || x.sizes()[d] > 0, c.name, "cannot reduce over dimension {} of size 0 (shape {})", d,
           shape_str(x.sizes()));
  DS_CHECK(x.dtype() != kBool, c.name, "is not defined for bool tensors");
  const Shape dims = x.dim() ? Shape{d} : Shape{};
  Shape out = rules::reduced_shape(x.sizes(), dims, a.keepdim);
  r.device = x.device();
  r.outs.push_back({out, x.dtype()});
  r.outs.push_back({out, kI64});
}

// cumsum attrs: DimAttrs
void cumsum_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  const Tensor& x = c.in[0];
  wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name);
  rules::unary(c, r, is_integral(x.dtype(), true) ? kI64 : x.dtype());
}

// The gradient of a reduced tensor, put back into the input's shape: reduced dims restored as size 1, then expanded.
Tensor unreduce(const Tensor& g, const Shape& in_sizes, const ReduceAttrs& a) {
  const Shape dims = rules::normalize_dims(a.dims, static_cast<int64_t>(in_sizes.size()), "unreduce");
  Tensor k = g;
  if (!a.keepdim) k = g.reshape(rules::reduced_shape(in_sizes, dims, true));
  return k.expand(in_sizes);
}

TensorList sum_vjp(const VjpCtx& c) { return {unreduce(c.grad[0], c.in_sizes[0], c.attrs.get<ReduceAttrs>())}; }

// prod: d/dx_i = prod_{j != i} x_j. Written without dividing by a zero: with z zeros in the slice, the gradient is
// out / x where z == 0, the product of the others at the zero where z == 1, and 0 everywhere when z >= 2.
TensorList prod_vjp(const VjpCtx& c) {
  const Tensor& x = c.in[0];
  const auto& a = c.attrs.get<ReduceAttrs>();
  const Tensor g = unreduce(c.grad[0], c.in_sizes[0], a);
  const Tensor is_zero = x == 0;
  const Tensor zeros_n = unreduce(sum(is_zero, a.dims, a.keepdim), c.in_sizes[0], a);
  const Tensor nonzero_prod = unreduce(prod(where(is_zero, ones_like(x), x), a.dims, a.keepdim), c.in_sizes[0], a);
  const Tensor safe_x = where(is_zero, ones_like(x), x);
  const Tensor grad_no_zero = nonzero_prod / safe_x;
  const Tensor grad_one_zero = where(is_zero, nonzero_prod, zeros_like(x));
  return {g * where(zeros_n == 0, grad_no_zero, where(zeros_n == 1, grad_one_zero, zeros_like(x)))};
}

// amax / amin: the gradient is split evenly among the elements equal to the extreme value.
TensorList extreme_vjp(const VjpCtx& c) {
  const Tensor& x = c.in[0];
  const auto& a = c.attrs.get<ReduceAttrs>();
  const Tensor hit = (x == unreduce(c.out[0], c.in_sizes[0], a)).to(x.dtype());
  const Tensor count = unreduce(sum(hit, a.dims, a.keepdim), c.in_sizes[0], a);
  return {unreduce(c.grad[0], c.in_sizes[0], a) * hit / count};
}

// max_dim / min_dim: the gradient goes to the index that was chosen.
TensorList arg_extreme_vjp(const VjpCtx& c) {
  const Shape& in = c.in_sizes[0];
  if (in.empty()) return {c.grad[0]};
  const auto& a = c.attrs.get<DimReduceAttrs>();
  const int64_t d = wrap_dim(a.dim, static_cast<int64_t>(in.size()), "max");
  Tensor g = c.grad[0], idx = c.out[1];
  if (!a.keepdim) {
    g = g.unsqueeze(d);
    idx = idx.unsqueeze(d);
  }
  return {scatter(zeros(in, {.dtype = g.dtype(), .device = g.device()}), d, idx, g)};
}

TensorList cumsum_vjp(const VjpCtx& c) {
  const int64_t d = c.in_sizes[0].empty() ? 0
                    : wrap_dim(c.attrs.get<DimAttrs>().dim, static_cast<int64_t>(c.in_sizes[0].size()), "cumsum");
  if (c.in_sizes[0].empty()) return {c.grad[0]};
  return {flip(cumsum(flip(c.grad[0], {d}), d), {d})};
}

using samples::make1;
using samples::uniform;

std::vector<OpCase> reduce_cases(DType dt, Tensor (*f)(const Tensor&, IntArrayRef, bool), double lo, double hi) {
  auto v = std::vector<OpCase>{
      make1("all dims", {uniform({3, 4}, dt, lo, hi, 1)}, [f](const TensorList& x) { return f(x[0], {}, false); }),
      make1("dim 1 keepdim", {uniform({3, 4}, dt, lo, hi, 2)}, [f](const TensorList& x) { return f(x[0], {1}, true); }),
      make1("dims (0, 2) of [2, 3, 4]", {uniform({2, 3, 4}, dt, lo, hi, 3)},
            [f](const TensorList& x) { return f(x[0], {0, 2}, false); }),
      make1("dim -1 of a transposed tensor", {samples::transposed({4, 3}, dt, lo, hi, 4)},
            [f](const TensorList& x) { return f(x[0], {-1}, false); }),
      make1("dim 0 (columns)", {uniform({5, 3}, dt, lo, hi, 5)}, [f](const TensorList& x) { return f(x[0], {0}, false); }),
      make1("0-d", {uniform({}, dt, lo, hi, 6)}, [f](const TensorList& x) { return f(x[0], {}, false); }),
  };
  return v;
}

std::vector<BadCase> reduce_bad() {
  return {samples::bad("dim out of range", [] { sum(ones({2, 3}), {2}); }, "dim 2 out of range"),
          samples::bad("repeated dim", [] { sum(ones({2, 3}), {1, -1}); }, "appears more than once"),
          samples::bad("amax of empty", [] { amax(ones({0, 3}), {0}); }, "of size 0"),
          samples::bad("max of empty dim", [] { max(ones({2, 0}), 1); }, "of size 0")};
}

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(sum) OpDef{.name = "sum", .attrs = &attrs_schema<ReduceAttrs>, .rule = reduce_rule, .cpu = cpu::sum,
    .cuda = DS_CUDA_KERNEL(sum), .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes, .autocast = AutocastClass::F32,
    .vjp = sum_vjp, .test = {
    .cases = [](DType dt) {
      auto v = reduce_cases(dt, [](const Tensor& x, IntArrayRef d, bool k) { return sum(x, d, k); }, -2, 2);
      v.push_back(make1("hand-computed rows", {tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}).to(dt)},
                        [](const TensorList& x) { return sum(x[0], {1}); }));
      v.back().expected = {{6, 15}};
      v.push_back(make1("long row (blocked)", {uniform({20000}, dt, -1, 1, 9)},
                        [](const TensorList& x) { return sum(x[0]); }, 0));
      return v;
    },
    .bad = reduce_bad, .gradgrad = true}};
DS_PRIMITIVE_ROW(prod) OpDef{.name = "prod", .attrs = &attrs_schema<ReduceAttrs>, .rule = reduce_rule,
    .cpu = cpu::prod, .cuda = DS_CUDA_KERNEL(prod), .cpu_dtypes = kFloatTypes | kIntTypes,
    .cuda_dtypes = kFloatTypes | kIntTypes, .autocast = AutocastClass::F32, .vjp = prod_vjp, .save_in = 1, .test = {
    .cases = [](DType dt) {
      auto v = reduce_cases(dt, [](const Tensor& x, IntArrayRef d, bool k) { return prod(x, d, k); }, 0.5, 1.5);
      v.push_back(make1("one zero in a row", {tensor({{2.0, 0.0, 3.0}, {1.5, 2.0, 0.5}}).to(dt)},
                        [](const TensorList& x) { return prod(x[0], {1}); }));
      v.back().expected = {{0, 1.5}};
      return v;
    }}};
DS_PRIMITIVE_ROW(amax) OpDef{.name = "amax", .attrs = &attrs_schema<ReduceAttrs>, .rule = reduce_rule,
    .cpu = cpu::amax, .cuda = DS_CUDA_KERNEL(amax), .cpu_dtypes = kFloatTypes | kIntTypes,
    .cuda_dtypes = kFloatTypes | kIntTypes, .vjp = extreme_vjp, .save_in = 1, .save_out = 1, .test = {
    .cases = [](DType dt) {
      auto v = reduce_cases(dt, [](const Tensor& x, IntArrayRef d, bool k) { return amax(x, d, k); }, -2, 2);
      v.push_back(make1("ties share the gradient", {tensor({{1.0, 3.0, 3.0}, {2.0, 0.0, -1.0}}).to(dt)},
                        [](const TensorList& x) { return amax(x[0], {1}); }));
      v.back().expected = {{3, 2}};
      return v;
    },
    .bad = reduce_bad}};
DS_PRIMITIVE_ROW(amin) OpDef{.name = "amin", .attrs = &attrs_schema<ReduceAttrs>, .rule = reduce_rule,
    .cpu = cpu::amin, .cuda = DS_CUDA_KERNEL(amin), .cpu_dtypes = kFloatTypes | kIntTypes,
    .cuda_dtypes = kFloatTypes | kIntTypes, .vjp = extreme_vjp, .save_in = 1, .save_out = 1, .test = {
    .cases = [](DType dt) {
      return reduce_cases(dt, [](const Tensor& x, IntArrayRef d, bool k) { return amin(x, d, k); }, -2, 2);
    }}};
DS_PRIMITIVE_ROW(max_dim) OpDef{.name = "max_dim", .attrs = &attrs_schema<DimReduceAttrs>, .rule = arg_reduce_rule,
    .cpu = cpu::max_dim, .cuda = DS_CUDA_KERNEL(max_dim), .cpu_dtypes = kFloatTypes | kIntTypes,
    .cuda_dtypes = kFloatTypes | kIntTypes, .vjp = arg_extreme_vjp, .save_out = 2, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
          samples::make("dim 1", {uniform({3, 4}, dt, -2, 2, 1)}, [](const TensorList& x) {
            auto r = max(x[0], 1); return TensorList{r.values, r.indices}; }),
          samples::make("dim 0 keepdim, transposed", {samples::transposed({3, 4}, dt, -2, 2, 2)}, [](const TensorList& x) {
            auto r = max(x[0], 0, true); return TensorList{r.values, r.indices}; }),
          samples::make("hand-computed, a tie takes the first index", {tensor({{1.0, 5.0, 2.0}, {7.0, 0.0, 7.0}}).to(dt)},
                        [](const TensorList& x) { auto r = max(x[0], 1); return TensorList{r.values, r.indices}; }, 0)};
      v.back().expected = {{5, 7}, {1, 0}};
      return v;
    },
    .bad = reduce_bad}};
DS_PRIMITIVE_ROW(min_dim) OpDef{.name = "min_dim", .attrs = &attrs_schema<DimReduceAttrs>, .rule = arg_reduce_rule,
    .cpu = cpu::min_dim, .cuda = DS_CUDA_KERNEL(min_dim), .cpu_dtypes = kFloatTypes | kIntTypes,
    .cuda_dtypes = kFloatTypes | kIntTypes, .vjp = arg_extreme_vjp, .save_out = 2, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
          samples::make("dim -1", {uniform({3, 4}, dt, -2, 2, 1)}, [](const TensorList& x) {
            auto r = min(x[0], -1); return TensorList{r.values, r.indices}; }),
          samples::make("hand-computed, a tie takes the first index", {tensor({{1.0, -5.0, 2.0}, {7.0, 0.0, 0.0}}).to(dt)},
                        [](const TensorList& x) { auto r = min(x[0], 1); return TensorList{r.values, r.indices}; }, 0)};
      v.back().expected = {{-5, 0}, {1, 1}};
      return v;
    }}};
DS_PRIMITIVE_ROW(cumsum) OpDef{.name = "cumsum", .attrs = &attrs_schema<DimAttrs>, .rule = cumsum_rule,
    .cpu = cpu::cumsum, .cuda = DS_CUDA_KERNEL(cumsum), .cpu_dtypes = kFloatTypes | kIntTypes,
    .cuda_dtypes = kFloatTypes | kIntTypes, .autocast = AutocastClass::F32, .vjp = cumsum_vjp, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
          make1("dim 1", {uniform({3, 4}, dt, -2, 2, 1)}, [](const TensorList& x) { return cumsum(x[0], 1); }),
          make1("dim 0 of a transposed tensor", {samples::transposed({3, 4}, dt, -2, 2, 2)},
                [](const TensorList& x) { return cumsum(x[0], 0); }),
          make1("hand-computed", {tensor({1.0, 2.0, 3.0, 4.0}).to(dt)}, [](const TensorList& x) { return cumsum(x[0], 0); })};
      v.back().expected = {{1, 3, 6, 10}};
      return v;
    },
    .gradgrad = true}};
// clang-format on

namespace {
Tensor reduce(OpId op, const Tensor& x, IntArrayRef dims, bool keepdim) {
  return call_op1(op, {x}, ReduceAttrs{.dims = rules::normalize_dims(dims, x.dim(), op_name(op)), .keepdim = keepdim});
}
}  // namespace

Tensor sum(const Tensor& x, IntArrayRef dims, bool keepdim) { return reduce(OpId::sum, x, dims, keepdim); }
Tensor prod(const Tensor& x, IntArrayRef dims, bool keepdim) { return reduce(OpId::prod, x, dims, keepdim); }
Tensor amax(const Tensor& x, IntArrayRef dims, bool keepdim) { return reduce(OpId::amax, x, dims, keepdim); }
Tensor amin(const Tensor& x, IntArrayRef dims, bool keepdim) { return reduce(OpId::amin, x, dims, keepdim); }
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) {
  TensorList r = call_op(OpId::max_dim, {x}, DimReduceAttrs{.dim = dim, .keepdim = keepdim});
  return {r[0], r[1]};
}
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) {
  TensorList r = call_op(OpId::min_dim, {x}, DimReduceAttrs{.dim = dim, .keepdim = keepdim});
  return {r[0], r[1]};
}
Tensor cumsum(const Tensor& x, int64_t dim) { return call_op1(OpId::cumsum, {x}, DimAttrs{.dim = dim}); }

}  // namespace ds
