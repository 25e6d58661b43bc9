// Rows and front functions of the view primitives. A view's rule computes where its output points into the input's
// storage (sizes, strides, offset); there is no kernel. Their vjps put the gradient back into the input's shape.
#include <algorithm>

#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/shape_ops.h>

#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

void begin_view(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  r.device = c.in[0].device();
}
void finish_view(const OpCall& c, RuleResult& r, Shape sizes, Shape strides, int64_t offset) {
  r.outs.push_back({sizes, c.in[0].dtype()});
  r.view = {std::move(sizes), std::move(strides), offset};
}

// ShapeAttrs (-1 infers one size)
void view_rule(const OpCall& c, RuleResult& r) {
  begin_view(c, r);
  const Tensor& x = c.in[0];
  Shape shape = rules::infer_size(c.attrs.get<ShapeAttrs>().shape, x.numel(), c.name);
  auto st = rules::view_strides(x.sizes(), x.strides(), shape);
  DS_CHECK(st.has_value(), c.name,
           "shape {} cannot view a tensor of shape {} and strides {} without a copy; use reshape", shape_str(shape),
           shape_str(x.sizes()), shape_str(x.strides()));
  finish_view(c, r, std::move(shape), std::move(*st), x.storage_offset());
}

// DimsAttrs: dims (a permutation)
void permute_rule(const OpCall& c, RuleResult& r) {
  begin_view(c, r);
  const Tensor& x = c.in[0];
  const Shape& dims = c.attrs.get<DimsAttrs>().dims;
  DS_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), c.name, "dims {} do not match a tensor of {} dimensions",
           shape_str(dims), x.dim());
  Shape sizes, strides;
  SmallVec<bool, 6> seen(dims.size(), false);
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, x.dim(), c.name);
    DS_CHECK(!seen[w], c.name, "dims {} repeat dimension {}", shape_str(dims), w);
    seen[w] = true;
    sizes.push_back(x.sizes()[w]);
    strides.push_back(x.strides()[w]);
  }
  finish_view(c, r, std::move(sizes), std::move(strides), x.storage_offset());
}

// SliceAttrs (start and end already clamped by the front function)
void slice_rule(const OpCall& c, RuleResult& r) {
  begin_view(c, r);
  const Tensor& x = c.in[0];
  DS_CHECK(x.dim() > 0, c.name, "cannot slice a 0-d tensor");
  const auto& a = c.attrs.get<SliceAttrs>();
  const int64_t d = wrap_dim(a.dim, x.dim(), c.name);
  const int64_t start = a.start, end = a.end, step = a.step;
  DS_CHECK(step > 0, c.name, "step must be positive, got {}", step);
  DS_CHECK(0 <= start && start <= end && end <= x.sizes()[d], c.name,
           "range [{}, {}) is outside dimension {} of size {}", start, end, d, x.sizes()[d]);
  Shape sizes = x.sizes(), strides = x.strides();
  sizes[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  finish_view(c, r, std::move(sizes), std::move(strides), x.storage_offset() + start * x.strides()[d]);
}

// SelectAttrs
void select_rule(const OpCall& c, RuleResult& r) {
  begin_view(c, r);
  const Tensor& x = c.in[0];
  DS_CHECK(x.dim() > 0, c.name, "cannot select from a 0-d tensor");
  const auto& a = c.attrs.get<SelectAttrs>();
  const int64_t d = wrap_dim(a.dim, x.dim(), c.name);
  const int64_t n = x.sizes()[d];
  int64_t i = a.index;
  DS_CHECK(i >= -n && i < n, c.name, "index {} is out of range for dimension {} of size {}", i, d, n);
  if (i < 0) i += n;
  Shape sizes = x.sizes(), strides = x.strides();
  sizes.erase(sizes.begin() + d);
  strides.erase(strides.begin() + d);
  finish_view(c, r, std::move(sizes), std::move(strides), x.storage_offset() + i * x.strides()[d]);
}

// ShapeAttrs (-1 keeps a size)
void expand_rule(const OpCall& c, RuleResult& r) {
  begin_view(c, r);
  const Tensor& x = c.in[0];
  const Shape& shape = c.attrs.get<ShapeAttrs>().shape;
  DS_CHECK(shape.size() >= static_cast<size_t>(x.dim()), c.name,
           "the target shape {} has fewer dimensions than the tensor's {}", shape_str(shape), shape_str(x.sizes()));
  const size_t lead = shape.size() - static_cast<size_t>(x.dim());
  Shape sizes(shape.size()), strides(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      DS_CHECK(shape[i] >= 0, c.name, "a new leading dimension cannot be -1 in {}", shape_str(shape));
      sizes[i] = shape[i];
      strides[i] = 0;
      continue;
    }
    const int64_t have = x.sizes()[i - lead], want = shape[i] == -1 ? have : shape[i];
    DS_CHECK(have == want || have == 1, c.name, "cannot expand {} to {}: dimension {} has size {}, not 1",
             shape_str(x.sizes()), shape_str(shape), i - lead, have);
    sizes[i] = want;
    strides[i] = have == want ? x.strides()[i - lead] : 0;
  }
  finish_view(c, r, std::move(sizes), std::move(strides), x.storage_offset());
}

// DimsAttrs: dims (empty: every size-1 dim)
void squeeze_rule(const OpCall& c, RuleResult& r) {
  begin_view(c, r);
  const Tensor& x = c.in[0];
  const Shape& listed_dims = c.attrs.get<DimsAttrs>().dims;
  const Shape dims = listed_dims.empty() ? Shape() : rules::normalize_dims(listed_dims, x.dim(), c.name);
  Shape sizes, strides;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool listed = dims.empty() || std::find(dims.begin(), dims.end(), d) != dims.end();
    if (listed && x.sizes()[d] == 1) continue;
    sizes.push_back(x.sizes()[d]);
    strides.push_back(x.strides()[d]);
  }
  finish_view(c, r, std::move(sizes), std::move(strides), x.storage_offset());
}

// DimAttrs: dim (in [-(n+1), n])
void unsqueeze_rule(const OpCall& c, RuleResult& r) {
  begin_view(c, r);
  const Tensor& x = c.in[0];
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim() + 1, c.name);
  Shape sizes = x.sizes(), strides = x.strides();
  const int64_t st = d < x.dim() ? x.strides()[d] * x.sizes()[d] : 1;
  sizes.insert(sizes.begin() + d, 1);
  strides.insert(strides.begin() + d, st);
  finish_view(c, r, std::move(sizes), std::move(strides), x.storage_offset());
}

// AsStridedAttrs
void as_strided_rule(const OpCall& c, RuleResult& r) {
  begin_view(c, r);
  const Tensor& x = c.in[0];
  const auto& a = c.attrs.get<AsStridedAttrs>();
  const Shape &sizes = a.sizes, &strides = a.strides;
  const int64_t offset = a.offset;
  DS_CHECK(sizes.size() == strides.size(), c.name, "sizes {} and strides {} differ in length", shape_str(sizes),
           shape_str(strides));
  int64_t last = offset;
  for (size_t i = 0; i < sizes.size(); ++i) {
    DS_CHECK(sizes[i] >= 0 && strides[i] >= 0, c.name, "negative size or stride in {} / {}", shape_str(sizes),
             shape_str(strides));
    if (sizes[i] == 0) last = offset - 1;
    else last += (sizes[i] - 1) * strides[i];
  }
  const auto capacity = static_cast<int64_t>(x.impl()->storage()->nbytes() / x.element_size());
  DS_CHECK(offset >= 0 && last < capacity, c.name,
           "sizes {}, strides {} and offset {} reach element {}, outside a storage of {} elements", shape_str(sizes),
           shape_str(strides), offset, last, capacity);
  finish_view(c, r, sizes, strides, offset);
}

TensorList view_vjp(const VjpCtx& c) { return {c.grad[0].reshape(c.in_sizes[0])}; }
TensorList permute_vjp(const VjpCtx& c) {
  const Shape& dims = c.attrs.get<DimsAttrs>().dims;
  Shape inv(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inv[wrap_dim(dims[i], static_cast<int64_t>(dims.size()), "permute")] = i;
  return {c.grad[0].permute(inv)};
}
// The gradient goes back into a zero tensor of the input's shape at the sliced positions.
Tensor unslice(const Tensor& g, const Shape& in_sizes, int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (step == 1) {
    const auto nd = static_cast<int64_t>(in_sizes.size());
    Shape pads(2 * nd, 0);
    pads[2 * (nd - 1 - dim)] = start;
    pads[2 * (nd - 1 - dim) + 1] = in_sizes[dim] - end;
    return pad(g, pads);
  }
  const Tensor index = arange(start, end, step, TensorOptions{.dtype = kI64, .device = g.device()});
  return index_add(zeros(in_sizes, {.dtype = g.dtype(), .device = g.device()}), dim, index, g);
}
TensorList slice_vjp(const VjpCtx& c) {
  const auto& a = c.attrs.get<SliceAttrs>();
  const int64_t d = wrap_dim(a.dim, static_cast<int64_t>(c.in_sizes[0].size()), "slice");
  return {unslice(c.grad[0], c.in_sizes[0], d, a.start, a.end, a.step)};
}
TensorList select_vjp(const VjpCtx& c) {
  const auto nd = static_cast<int64_t>(c.in_sizes[0].size());
  const auto& a = c.attrs.get<SelectAttrs>();
  const int64_t d = wrap_dim(a.dim, nd, "select");
  int64_t i = a.index;
  if (i < 0) i += c.in_sizes[0][d];
  return {unslice(c.grad[0].unsqueeze(d), c.in_sizes[0], d, i, i + 1, 1)};
}
// expand's gradient is the sum over the broadcast dims, which the engine's un-broadcasting does.
TensorList identity_vjp(const VjpCtx& c) { return {c.grad[0]}; }
// as_strided: the gradient of each output element is added at its storage position; the input's own positions
// are then read back. Exact when the input does not overlap itself (as in PyTorch).
TensorList as_strided_vjp(const VjpCtx& c) {
  const Tensor& g = c.grad[0];
  const Tensor& x = c.in[0];
  const auto& a = c.attrs.get<AsStridedAttrs>();
  const Shape &sizes = a.sizes, &strides = a.strides;
  const int64_t base = std::min(a.offset, x.storage_offset());
  auto positions = [&](IntArrayRef sz, IntArrayRef st, int64_t off) {
    Tensor p = full(sz, off - base, {.dtype = kI64, .device = g.device()});
    for (size_t d = 0; d < sz.size(); ++d) {
      Shape shape(sz.size(), 1);
      shape[d] = sz[d];
      p = p + arange(0, sz[d], 1, TensorOptions{.dtype = kI64, .device = g.device()}).view(shape) * st[d];
    }
    return p.reshape({-1});
  };
  const Tensor out_pos = positions(sizes, strides, a.offset);
  const Tensor in_pos = positions(x.sizes(), x.strides(), x.storage_offset());
  // The storage both views span, from their metadata: no value is read (no device sync, no graph break, and it
  // works on meta tensors).
  auto last = [&](IntArrayRef sz, IntArrayRef st, int64_t off) {
    int64_t p = off - base;
    for (size_t d = 0; d < sz.size(); ++d) p += (sz[d] - 1) * std::max<int64_t>(st[d], 0);
    return p;
  };
  int64_t extent = 1;
  if (out_pos.numel()) extent = std::max(extent, last(sizes, strides, a.offset) + 1);
  if (in_pos.numel()) extent = std::max(extent, last(x.sizes(), x.strides(), x.storage_offset()) + 1);
  Tensor storage = index_add(zeros({extent}, {.dtype = g.dtype(), .device = g.device()}), 0, out_pos, g.reshape({-1}));
  return {index_select(storage, 0, in_pos).reshape(x.sizes())};
}

std::vector<OpCase> view_cases(DType dt) {
  using samples::make1;
  using samples::uniform;
  return {
      make1("view [2, 6] as [3, -1]", {uniform({2, 6}, dt, -1, 1, 1)}, [](const TensorList& x) { return x[0].view({3, -1}); }),
      make1("view a transposed tensor", {samples::transposed({3, 4}, dt, -1, 1, 2)},
            [](const TensorList& x) { return x[0].unsqueeze(0).view({1, 3, 4}) * 2; }),
      make1("reshape of non-contiguous copies", {samples::transposed({3, 4}, dt, -1, 1, 3)},
            [](const TensorList& x) { return x[0].reshape({12}); }),
  };
}

std::vector<BadCase> view_bad() {
  return {
      samples::bad("incompatible view", [] { ones({3, 4}).t().view({12}); }, "without a copy; use reshape"),
      samples::bad("wrong numel", [] { ones({3, 4}).view({5, -1}); }, "invalid for input of size 12"),
      samples::bad("two -1", [] { ones({3, 4}).view({-1, -1}); }, "only one dimension can be -1"),
      samples::bad("select out of range", [] { ones({3, 4}).select(1, 4); }, "out of range for dimension 1 of size 4"),
      samples::bad("expand non-1 dim", [] { ones({3, 4}).expand({3, 5}); }, "cannot expand"),
      samples::bad("permute repeats", [] { ones({3, 4}).permute({0, 0}); }, "repeat dimension"),
      samples::bad("as_strided out of storage", [] { ones({4}).as_strided({3}, {2}); }, "outside a storage"),
      samples::bad("dim out of range", [] { ones({3, 4}).unsqueeze(4); }, "out of range"),
  };
}

// A view computes strides only, so it runs on every device in every dtype.
OpDef view_row(std::string_view name, const AttrSchema* attrs, RuleFn rule, VjpFn vjp, uint32_t save_in,
               std::vector<OpCase> (*cases)(DType), std::vector<BadCase> (*bad)() = nullptr) {
  return OpDef{.name = name, .kind = OpKind::View, .attrs = attrs, .rule = rule, .cpu_dtypes = kAllTypes,
               .cuda_dtypes = kAllTypes, .vjp = vjp, .save_in = save_in,
               .test = {.cases = cases, .bad = bad, .gradgrad = true}};
}

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(view) view_row("view", &attrs_schema<ShapeAttrs>, view_rule, view_vjp, 0, view_cases, view_bad);
DS_PRIMITIVE_ROW(permute) view_row("permute", &attrs_schema<DimsAttrs>, permute_rule, permute_vjp, 0, [](DType dt) {
  return std::vector<OpCase>{
      samples::make1("permute [2, 3, 4] to (2, 0, 1)", {samples::uniform({2, 3, 4}, dt, -1, 1, 1)},
                     [](const TensorList& x) { return x[0].permute({2, 0, 1}); }),
      samples::make1("transpose of a strided tensor", {samples::strided({2, 3}, dt, -1, 1, 2)},
                     [](const TensorList& x) { return x[0].transpose(0, 1); }),
      samples::make1("hand-computed t()", {tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}).to(dt)},
                     [](const TensorList& x) { return x[0].t().contiguous(); })};
});
DS_PRIMITIVE_ROW(slice) view_row("slice", &attrs_schema<SliceAttrs>, slice_rule, slice_vjp, 0, [](DType dt) {
  auto v = std::vector<OpCase>{
      samples::make1("narrow dim 1", {samples::uniform({3, 5}, dt, -1, 1, 1)},
                     [](const TensorList& x) { return x[0].narrow(1, 1, 3); }),
      samples::make1("step 2", {samples::uniform({7, 2}, dt, -1, 1, 2)},
                     [](const TensorList& x) { return x[0].slice(0, 1, 6, 2); }),
      samples::make1("negative start, end past the size", {samples::uniform({6}, dt, -1, 1, 3)},
                     [](const TensorList& x) { return x[0].slice(0, -4, 100, 3); }),
      samples::make1("hand-computed [1:5:2]", {arange(0, 6).to(dt)},
                     [](const TensorList& x) { return x[0].slice(0, 1, 5, 2); })};
  v.back().expected = {{1, 3}};
  return v;
});
DS_PRIMITIVE_ROW(select) view_row("select", &attrs_schema<SelectAttrs>, select_rule, select_vjp, 0, [](DType dt) {
  return std::vector<OpCase>{
      samples::make1("select row", {samples::uniform({3, 4}, dt, -1, 1, 1)},
                     [](const TensorList& x) { return x[0].select(0, 1); }),
      samples::make1("select -1 of a transposed tensor", {samples::transposed({3, 4}, dt, -1, 1, 2)},
                     [](const TensorList& x) { return x[0].select(1, -1); })};
});
DS_PRIMITIVE_ROW(expand) view_row("expand", &attrs_schema<ShapeAttrs>, expand_rule, identity_vjp, 0, [](DType dt) {
  return std::vector<OpCase>{
      samples::make1("expand [3, 1] to [2, 3, 4]", {samples::uniform({3, 1}, dt, -1, 1, 1)},
                     [](const TensorList& x) { return x[0].expand({2, 3, 4}) * 1; }),
      samples::make1("expand with -1", {samples::uniform({1, 4}, dt, -1, 1, 2)},
                     [](const TensorList& x) { return x[0].expand({3, -1}) * 1; })};
});
DS_PRIMITIVE_ROW(squeeze) view_row("squeeze", &attrs_schema<DimsAttrs>, squeeze_rule, view_vjp, 0, [](DType dt) {
  return std::vector<OpCase>{
      samples::make1("squeeze all", {samples::uniform({1, 3, 1, 2}, dt, -1, 1, 1)},
                     [](const TensorList& x) { return x[0].squeeze(); }),
      samples::make1("squeeze one", {samples::uniform({1, 3, 1}, dt, -1, 1, 2)},
                     [](const TensorList& x) { return x[0].squeeze(-1); })};
});
DS_PRIMITIVE_ROW(unsqueeze) view_row("unsqueeze", &attrs_schema<DimAttrs>, unsqueeze_rule, view_vjp, 0, [](DType dt) {
  return std::vector<OpCase>{
      samples::make1("unsqueeze 0", {samples::uniform({3, 2}, dt, -1, 1, 1)},
                     [](const TensorList& x) { return x[0].unsqueeze(0); }),
      samples::make1("unsqueeze -1 of a transposed tensor", {samples::transposed({3, 2}, dt, -1, 1, 2)},
                     [](const TensorList& x) { return x[0].unsqueeze(-1); })};
});
DS_PRIMITIVE_ROW(as_strided) view_row("as_strided", &attrs_schema<AsStridedAttrs>, as_strided_rule,
                                      as_strided_vjp, 1, [](DType dt) {
  return std::vector<OpCase>{
      samples::make1("sliding windows", {samples::uniform({6}, dt, -1, 1, 1)},
                     [](const TensorList& x) { return x[0].as_strided({2, 3}, {3, 1}, 0); }),
      samples::make1("transpose with an offset", {samples::uniform({3, 4}, dt, -1, 1, 2)},
                     [](const TensorList& x) { return x[0].as_strided({3, 2}, {1, 4}, 1); })};
});
// clang-format on

Tensor view(const Tensor& x, IntArrayRef shape) { return call_op1(OpId::view, {x}, ShapeAttrs{.shape = shape.vec()}); }
Tensor permute(const Tensor& x, IntArrayRef dims) {
  return call_op1(OpId::permute, {x}, DimsAttrs{.dims = dims.vec()});
}

Tensor slice(const Tensor& x, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) {
  const int64_t d = wrap_dim(dim, x.dim(), "slice");
  const int64_t n = x.dim() ? x.sizes()[d] : 0;
  auto clampi = [n](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + n : v, 0, n); };
  const int64_t s = start ? clampi(*start) : 0;
  const int64_t e = std::max(s, end ? clampi(*end) : n);
  return call_op1(OpId::slice, {x}, SliceAttrs{.dim = d, .start = s, .end = e, .step = step});
}
Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  return call_op1(OpId::select, {x}, SelectAttrs{.dim = dim, .index = index});
}
Tensor expand(const Tensor& x, IntArrayRef shape) {
  return call_op1(OpId::expand, {x}, ShapeAttrs{.shape = shape.vec()});
}
Tensor squeeze(const Tensor& x, IntArrayRef dims) {
  return call_op1(OpId::squeeze, {x}, DimsAttrs{.dims = dims.vec()});
}
Tensor unsqueeze(const Tensor& x, int64_t dim) { return call_op1(OpId::unsqueeze, {x}, DimAttrs{.dim = dim}); }
Tensor as_strided(const Tensor& x, IntArrayRef sizes, IntArrayRef strides, std::optional<int64_t> storage_offset) {
  return call_op1(OpId::as_strided, {x}, AsStridedAttrs{.sizes = sizes.vec(), .strides = strides.vec(),
                                                       .offset = storage_offset.value_or(x.storage_offset())});
}

}  // namespace ds
