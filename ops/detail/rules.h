#pragma once
// Building blocks of op rules (internal): device agreement, type promotion, broadcasting and the common rule
// shapes (unary, binary, comparison). Every error names the op.
#include <optional>

#include <ds/core/detail/check.h>
#include <ds/ops/op_def.h>

namespace ds::rules {

// The device all defined inputs share; throws "[op] expected all tensors on one device, got cpu and cuda:0".
Device common_device(const OpCall& c);
// PyTorch's result_type over the defined inputs (dimensioned tensors > 0-d tensors > wrapped numbers).
DType result_type(std::span<const Tensor> ts);
// Floating dtype an op on integers computes in (f32, PyTorch's default).
inline DType to_floating(DType t) { return is_floating(t) ? t : kF32; }
// Checks input count.
void expect_inputs(const OpCall& c, size_t n);

// out = in (shape, dtype); input cast to `compute` if given.
void unary(const OpCall& c, RuleResult& r, DType out_dtype);
// Broadcast inputs; all cast to `compute`; output dtype out_dtype.
void nary_broadcast(const OpCall& c, RuleResult& r, DType compute, DType out_dtype);

// Rule functions usable directly in rows.
void unary_float_rule(const OpCall& c, RuleResult& r);     // ints compute in f32 (exp, log, sin, ...)
void unary_same_rule(const OpCall& c, RuleResult& r);      // numbers keep their dtype (neg, abs, relu, ...)
void binary_arith_rule(const OpCall& c, RuleResult& r);    // promote + broadcast (add, sub, mul, ...)
void binary_float_rule(const OpCall& c, RuleResult& r);    // promote to floating (div, pow)
void compare_rule(const OpCall& c, RuleResult& r);         // promote inputs, bool output
void logical_rule(const OpCall& c, RuleResult& r);         // inputs as bool, bool output

// Shape of x reduced over dims (sorted, unique, wrapped); all dims when `dims` is empty.
Shape reduced_shape(IntArrayRef sizes, IntArrayRef dims, bool keepdim);
Shape normalize_dims(IntArrayRef dims, int64_t ndim, std::string_view op);

}  // namespace ds::rules

namespace ds::rules {
// Replaces a -1 in `shape` by what makes numel match; throws when it cannot.
Shape infer_size(IntArrayRef shape, int64_t numel, std::string_view op);
// Strides that view (sizes, strides) as new_sizes without copying, or nullopt when impossible (torch's
// computeStride).
std::optional<Shape> view_strides(IntArrayRef sizes, IntArrayRef strides, IntArrayRef new_sizes);
}  // namespace ds::rules

namespace ds::rules {
// A spatial option given as one value for both dims or as (h, w): (3) -> (3, 3).
Shape expand_pair(IntArrayRef v, std::string_view op);
}  // namespace ds::rules

