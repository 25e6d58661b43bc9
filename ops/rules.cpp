#include "detail/rules.h"
#include "rng_input.h"
#include "dispatch.h"

#include <algorithm>
#include <optional>

namespace ds::rules {

Device common_device(const OpCall& c) {
  std::optional<Device> d;
  bool cpu_scalar = false;  // a 0-d CPU tensor (autograd saves host numbers so): fine beside meta tensors
  for (const Tensor& t : c.in) {
    if (!t.defined() || t.impl()->is_wrapped_number()) continue;
    if (t.dim() == 0 && t.is_cpu()) {
      cpu_scalar = true;
      continue;
    }
    if (!d) d = t.device();
    else DS_CHECK(*d == t.device(), c.name, "expected all tensors on one device, got {} and {}", d->str(),
                  t.device().str());
  }
  DS_CHECK(!cpu_scalar || !d || d->is_cpu() || d->is_meta(), c.name, "expected all tensors on one device, got {} "
           "and a 0-d tensor on cpu", d ? d->str() : std::string());
  return d.value_or(kCPU);
}

namespace {
std::optional<DType> promote_opt(std::optional<DType> a, std::optional<DType> b) {
  if (!a) return b;
  if (!b) return a;
  return promote_types(*a, *b);
}
// torch's combine_categories: a higher-priority category wins unless the lower one is of a higher kind.
std::optional<DType> combine(std::optional<DType> higher, std::optional<DType> lower) {
  if (higher && is_floating(*higher)) return higher;
  if ((higher && *higher == kBool) || (lower && is_floating(*lower))) return promote_opt(higher, lower);
  if (higher) return higher;
  return lower;
}
}  // namespace

DType result_type(std::span<const Tensor> ts) {
  std::optional<DType> dim_r, zero_r, wrapped_r;
  for (const Tensor& t : ts) {
    if (!t.defined()) continue;
    if (t.impl()->is_wrapped_number()) {
      DType d = t.dtype();
      if (is_floating(d)) d = kF32;
      wrapped_r = promote_opt(wrapped_r, d);
    } else if (t.dim() == 0) {
      zero_r = promote_opt(zero_r, t.dtype());
    } else {
      dim_r = promote_opt(dim_r, t.dtype());
    }
  }
  return combine(dim_r, combine(zero_r, wrapped_r)).value_or(kF32);
}

void expect_inputs(const OpCall& c, size_t n) {
  DS_CHECK(c.in.size() == n, c.name, "expects {} input{}, got {}", n, n == 1 ? "" : "s", c.in.size());
  for (size_t i = 0; i < n; ++i) DS_CHECK(c.in[i].defined(), c.name, "input {} is an undefined tensor", i);
}

void unary(const OpCall& c, RuleResult& r, DType out_dtype) {
  r.device = c.in[0].device();
  r.outs.push_back({c.in[0].sizes(), out_dtype});
}

void nary_broadcast(const OpCall& c, RuleResult& r, DType compute, DType out_dtype) {
  r.device = common_device(c);
  Shape shape = c.in[0].sizes();
  for (size_t i = 1; i < c.in.size(); ++i) shape = broadcast_shapes(shape, c.in[i].sizes(), c.name);
  r.outs.push_back({std::move(shape), out_dtype});
  r.casts.assign(c.in.size(), compute);
}

void unary_float_rule(const OpCall& c, RuleResult& r) {
  expect_inputs(c, 1);
  const DType t = to_floating(c.in[0].dtype());
  unary(c, r, t);
  r.casts.assign(1, t);
}

void unary_same_rule(const OpCall& c, RuleResult& r) {
  expect_inputs(c, 1);
  DS_CHECK(c.in[0].dtype() != kBool, c.name, "is not defined for bool tensors (shape {})", shape_str(c.in[0].sizes()));
  unary(c, r, c.in[0].dtype());
}

namespace {
// Two plain tensors of one shape, dtype and device (the common case): no promotion, no broadcasting.
bool same_plain(const OpCall& c) {
  const TensorImpl *a = c.in[0].impl(), *b = c.in[1].impl();
  return a->dtype() == b->dtype() && a->device() == b->device() && !a->is_wrapped_number() &&
         !b->is_wrapped_number() && a->sizes() == b->sizes();
}
}  // namespace

void binary_arith_rule(const OpCall& c, RuleResult& r) {
  expect_inputs(c, 2);
  if (same_plain(c) && c.in[0].dtype() != kBool) {
    r.device = c.in[0].device();
    r.outs.push_back({c.in[0].sizes(), c.in[0].dtype()});
    return;
  }
  DType t = result_type(c.in);
  if (t == kBool && c.op != OpId::mul && c.op != OpId::add && c.op != OpId::maximum && c.op != OpId::minimum)
    DS_FAIL(c.name, "is not defined for two bool tensors ({} and {})", shape_str(c.in[0].sizes()),
            shape_str(c.in[1].sizes()));
  nary_broadcast(c, r, t, t);
}

void binary_float_rule(const OpCall& c, RuleResult& r) {
  expect_inputs(c, 2);
  const DType t = to_floating(result_type(c.in));
  nary_broadcast(c, r, t, t);
}

void compare_rule(const OpCall& c, RuleResult& r) {
  expect_inputs(c, 2);
  nary_broadcast(c, r, result_type(c.in), kBool);
}

void logical_rule(const OpCall& c, RuleResult& r) {
  expect_inputs(c, 2);
  nary_broadcast(c, r, kBool, kBool);
}

Shape normalize_dims(IntArrayRef dims, int64_t ndim, std::string_view op) {
  Shape out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) {
    const int64_t w = ndim == 0 ? wrap_dim(d, 0, op) - 0 : wrap_dim(d, ndim, op);
    DS_CHECK(std::find(out.begin(), out.end(), w) == out.end(), op, "dim {} appears more than once in {}", d,
             shape_str(dims));
    out.push_back(w);
  }
  std::sort(out.begin(), out.end());
  if (ndim == 0) out.clear();  // a 0-d tensor has nothing to reduce over
  return out;
}

Shape reduced_shape(IntArrayRef sizes, IntArrayRef dims, bool keepdim) {
  Shape out;
  size_t k = 0;
  for (size_t d = 0; d < sizes.size(); ++d) {
    const bool reduced = k < dims.size() && dims[k] == static_cast<int64_t>(d);
    if (reduced) ++k;
    if (!reduced) out.push_back(sizes[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

}  // namespace ds::rules

namespace ds::rules {

Shape infer_size(IntArrayRef shape, int64_t numel, std::string_view op) {
  Shape out = shape.vec();
  int64_t known = 1;
  std::optional<size_t> infer;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      DS_CHECK(!infer, op, "only one dimension can be -1 in shape {}", shape_str(shape));
      infer = i;
    } else {
      DS_CHECK(out[i] >= 0, op, "invalid dimension {} in shape {}", out[i], shape_str(shape));
      known *= out[i];
    }
  }
  if (infer) {
    DS_CHECK(known != 0 && numel % known == 0, op, "shape {} is invalid for input of size {}", shape_str(shape), numel);
    out[*infer] = numel / known;
  } else {
    DS_CHECK(known == numel, op, "shape {} is invalid for input of size {}", shape_str(shape), numel);
  }
  return out;
}

std::optional<Shape> view_strides(IntArrayRef sizes, IntArrayRef strides, IntArrayRef new_sizes) {
  Shape ns(new_sizes.size(), 1);
  if (sizes.empty()) return contiguous_strides(new_sizes);
  if (numel_of(sizes) == 0) {
    if (sizes == new_sizes) return strides.vec();
    return contiguous_strides(new_sizes);
  }
  auto view_d = static_cast<int64_t>(new_sizes.size()) - 1;
  int64_t chunk_base_stride = strides[strides.size() - 1];
  int64_t tensor_numel = 1, view_numel = 1;
  for (auto td = static_cast<int64_t>(sizes.size()) - 1; td >= 0; --td) {
    tensor_numel *= sizes[td];
    if (td == 0 || (sizes[td - 1] != 1 && strides[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        ns[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (td > 0) {
        chunk_base_stride = strides[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return ns;
}

Shape expand_pair(IntArrayRef v, std::string_view op) {
  DS_CHECK(v.size() == 1 || v.size() == 2, op, "expects 1 or 2 values per spatial option, got {}", shape_str(v));
  return v.size() == 1 ? Shape{v[0], v[0]} : Shape{v[0], v[1]};
}

}  // namespace ds::rules

namespace ds::rng_input {

Tensor draw(Generator& g, uint64_t counters) {
  Tensor t = make(g.reserve(counters));
  if (dispatch_state().tracing && dispatch_hooks().trace_rng) [[unlikely]] dispatch_hooks().trace_rng(t, g, counters);
  return t;
}

void check(const Tensor& t, std::string_view op) {
  DS_CHECK(t.defined() && t.dtype() == kI64 && t.is_cpu() && t.numel() == 2 && t.is_contiguous(), op,
           "expects its Philox state as a contiguous int64 CPU tensor of 2 (seed, offset), got {}",
           t.defined() ? std::string(dtype_name(t.dtype())) + " " + shape_str(t.sizes()) + " on " + t.device().str()
                       : std::string("none"));
}

}  // namespace ds::rng_input
