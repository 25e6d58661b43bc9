// Rows and front functions of the shape-and-index primitives: cat, flip, pad, gather, scatter, scatter_add,
// index_select, index_add, topk, sort.
#include <algorithm>

#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/shape_ops.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

void check_index_dtype(const OpCall& c, const Tensor& index) {
  DS_CHECK(is_integral(index.dtype()), c.name, "indices must be an integer tensor, got {} (shape {})",
           dtype_name(index.dtype()), shape_str(index.sizes()));
}

// cat attrs: DimAttrs. Inputs: any number; 1-d empty tensors are skipped (as torch.cat does).
void cat_rule(const OpCall& c, RuleResult& r) {
  DS_CHECK(!c.in.empty(), c.name, "expects a non-empty list of tensors");
  r.device = rules::common_device(c);
  const Tensor* ref = nullptr;
  for (const Tensor& t : c.in) {
    DS_CHECK(t.defined(), c.name, "got an undefined tensor");
    if (!(t.dim() == 1 && t.numel() == 0) && !ref) ref = &t;
  }
  const DType dt = rules::result_type(c.in);
  r.casts.assign(c.in.size(), dt);
  if (!ref) {
    r.outs.push_back({Shape{0}, dt});
    return;
  }
  DS_CHECK(ref->dim() > 0, c.name, "zero-dimensional tensors cannot be concatenated");
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, ref->dim(), c.name);
  Shape out = ref->sizes();
  out[d] = 0;
  for (size_t i = 0; i < c.in.size(); ++i) {
    const Tensor& t = c.in[i];
    if (t.dim() == 1 && t.numel() == 0) continue;
    DS_CHECK(t.dim() == ref->dim(), c.name, "tensor {} has {} dimensions, expected {} (shapes {} and {})", i, t.dim(),
             ref->dim(), shape_str(ref->sizes()), shape_str(t.sizes()));
    for (int64_t k = 0; k < t.dim(); ++k)
      DS_CHECK(k == d || t.sizes()[k] == ref->sizes()[k], c.name,
               "sizes must match except in dimension {}: tensor {} has shape {}, expected {} in dimension {}", d, i,
               shape_str(t.sizes()), ref->sizes()[k], k);
    out[d] += t.sizes()[d];
  }
  r.outs.push_back({std::move(out), dt});
}

TensorList cat_vjp(const VjpCtx& c) {
  TensorList g(c.in_sizes.size());
  const Shape* ref = nullptr;
  for (const Shape& s : c.in_sizes)
    if (!(s.size() == 1 && s[0] == 0)) ref = ref ? ref : &s;
  if (!ref) return g;
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, static_cast<int64_t>(ref->size()), "cat");
  int64_t off = 0;
  for (size_t i = 0; i < c.in_sizes.size(); ++i) {
    const Shape& s = c.in_sizes[i];
    if (s.size() == 1 && s[0] == 0) continue;
    if (c.needs_grad(static_cast<int>(i))) g[i] = c.grad[0].narrow(d, off, s[d]);
    off += s[d];
  }
  return g;
}

// flip attrs: DimsAttrs
void flip_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  rules::normalize_dims(c.attrs.get<DimsAttrs>().dims, c.in[0].dim(), c.name);
  rules::unary(c, r, c.in[0].dtype());
}
TensorList flip_vjp(const VjpCtx& c) { return {flip(c.grad[0], c.attrs.get<DimsAttrs>().dims)}; }

// pad attrs: PadAttrs (pads: left, right of the last dim, then the one before...)
void pad_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  const Tensor& x = c.in[0];
  const auto& a = c.attrs.get<PadAttrs>();
  const Shape& pads = a.pads;
  DS_CHECK(pads.size() % 2 == 0 && pads.size() <= 2 * static_cast<size_t>(x.dim()), c.name,
           "{} pad values for a tensor of {} dimensions (need an even number, at most {})", pads.size(), x.dim(),
           2 * x.dim());
  Shape out = x.sizes();
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    const int64_t d = x.dim() - 1 - static_cast<int64_t>(i);
    const int64_t l = pads[2 * i], rr = pads[2 * i + 1];
    if (a.mode == PadMode::Reflect) {
      DS_CHECK(l >= 0 && rr >= 0 && l < x.sizes()[d] && rr < x.sizes()[d], c.name,
               "reflect padding ({}, {}) must be non-negative and smaller than dimension {} of size {}", l, rr, d,
               x.sizes()[d]);
    }
    out[d] += l + rr;
    DS_CHECK(out[d] >= 0, c.name, "padding ({}, {}) leaves dimension {} of size {} with a negative size", l, rr, d,
             x.sizes()[d]);
  }
  rules::unary(c, r, x.dtype());
  r.outs[0].sizes = std::move(out);
}
TensorList pad_vjp(const VjpCtx& c) {
  const auto& a = c.attrs.get<PadAttrs>();
  const Shape& pads = a.pads;
  const Tensor& g = c.grad[0];
  if (a.mode == PadMode::Constant) {  // constant: crop what was added (and zero-fill what was cropped)
    Shape neg(pads.size());
    for (size_t i = 0; i < pads.size(); ++i) neg[i] = -pads[i];
    return {pad(g, neg)};
  }
  // reflect, one dim at a time: the reflected border's gradient folds back onto the elements it copied.
  Tensor cur = g;
  const auto nd = static_cast<int64_t>(c.in_sizes[0].size());
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    const int64_t d = nd - 1 - static_cast<int64_t>(i);
    const int64_t l = pads[2 * i], rr = pads[2 * i + 1], n = c.in_sizes[0][d];
    if (l == 0 && rr == 0) continue;
    Tensor res = cur.narrow(d, l, n);
    auto pad_dim = [&](const Tensor& t, int64_t before, int64_t after) {
      Shape p(2 * (nd - d), 0);
      p[2 * (nd - 1 - d)] = before;
      p[2 * (nd - 1 - d) + 1] = after;
      return pad(t, p);
    };
    if (l > 0) res = res + pad_dim(flip(cur.narrow(d, 0, l), {d}), 1, n - 1 - l);
    if (rr > 0) res = res + pad_dim(flip(cur.narrow(d, l + n, rr), {d}), n - 1 - rr, 1);
    cur = res;
  }
  return {cur};
}

// gather: x, index (same rank, index.size(k) <= x.size(k) for k != dim) -> out of index's shape. attrs: DimAttrs
void gather_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 2);
  const Tensor &x = c.in[0], &idx = c.in[1];
  check_index_dtype(c, idx);
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name);
  DS_CHECK(idx.dim() == x.dim(), c.name, "index {} and input {} must have the same number of dimensions",
           shape_str(idx.sizes()), shape_str(x.sizes()));
  for (int64_t k = 0; k < x.dim(); ++k)
    DS_CHECK(k == d || idx.sizes()[k] <= x.sizes()[k], c.name,
             "index {} is larger than input {} in dimension {}", shape_str(idx.sizes()), shape_str(x.sizes()), k);
  r.device = rules::common_device(c);
  r.outs.push_back({idx.sizes(), x.dtype()});
  r.casts = {std::nullopt, kI64};
}
TensorList gather_vjp(const VjpCtx& c) {
  const Tensor& g = c.grad[0];
  return {scatter_add(zeros(c.in_sizes[0], {.dtype = g.dtype(), .device = g.device()}), c.attrs.get<DimAttrs>().dim,
                      c.in[1], g),
          Tensor()};
}

// scatter / scatter_add: x, index, src (src at least index's size) -> out of x's shape. attrs: DimAttrs
void scatter_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 3);
  const Tensor &x = c.in[0], &idx = c.in[1], &src = c.in[2];
  check_index_dtype(c, idx);
  const int64_t d = wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name);
  DS_CHECK(idx.dim() == x.dim() && src.dim() == x.dim(), c.name,
           "input {}, index {} and src {} must have the same number of dimensions", shape_str(x.sizes()),
           shape_str(idx.sizes()), shape_str(src.sizes()));
  for (int64_t k = 0; k < x.dim(); ++k) {
    DS_CHECK(idx.sizes()[k] <= src.sizes()[k], c.name, "index {} is larger than src {} in dimension {}",
             shape_str(idx.sizes()), shape_str(src.sizes()), k);
    DS_CHECK(k == d || idx.sizes()[k] <= x.sizes()[k], c.name, "index {} is larger than input {} in dimension {}",
             shape_str(idx.sizes()), shape_str(x.sizes()), k);
  }
  r.device = rules::common_device(c);
  r.outs.push_back({x.sizes(), x.dtype()});
  r.casts = {std::nullopt, kI64, x.dtype()};
}
// src may be larger than index: only its leading index-shaped block was read, the rest gets zero gradient.
Tensor src_grad(const VjpCtx& c) {
  const Tensor g = gather(c.grad[0], c.attrs.get<DimAttrs>().dim, c.in[1]);
  const Shape& src = c.in_sizes[2];
  if (g.sizes() == src) return g;
  Shape pads;
  for (size_t k = src.size(); k-- > 0;) {
    pads.push_back(0);
    pads.push_back(src[k] - g.sizes()[k]);
  }
  return pad(g, pads);
}
TensorList scatter_vjp(const VjpCtx& c) {
  TensorList g(3);
  if (c.needs_grad(0)) g[0] = scatter(c.grad[0], c.attrs.get<DimAttrs>().dim, c.in[1], 0);
  if (c.needs_grad(2)) g[2] = src_grad(c);
  return g;
}
TensorList scatter_add_vjp(const VjpCtx& c) {
  TensorList g(3);
  g[0] = c.grad[0];
  if (c.needs_grad(2)) g[2] = src_grad(c);
  return g;
}

// index_select: x, index (1-d) -> x with dim resized to index's length. attrs: DimAttrs
void index_select_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 2);
  const Tensor &x = c.in[0], &idx = c.in[1];
  check_index_dtype(c, idx);
  DS_CHECK(idx.dim() <= 1, c.name, "index must be 0-d or 1-d, got shape {}", shape_str(idx.sizes()));
  Shape out = x.sizes();
  if (x.dim() > 0) out[wrap_dim(c.attrs.get<DimAttrs>().dim, x.dim(), c.name)] = idx.numel();
  r.device = rules::common_device(c);
  r.outs.push_back({std::move(out), x.dtype()});
  r.casts = {std::nullopt, kI64};
}
TensorList index_select_vjp(const VjpCtx& c) {
  const Tensor& g = c.grad[0];
  return {index_add(zeros(c.in_sizes[0], {.dtype = g.dtype(), .device = g.device()}), c.attrs.get<DimAttrs>().dim,
                    c.in[1], g),
          Tensor()};
}

// index_add: x, index (1-d), src (x's shape with dim = index's length) -> out of x's shape. attrs: IndexAddAttrs
void index_add_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 3);
  const Tensor &x = c.in[0], &idx = c.in[1], &src = c.in[2];
  check_index_dtype(c, idx);
  DS_CHECK(idx.dim() <= 1, c.name, "index must be 0-d or 1-d, got shape {}", shape_str(idx.sizes()));
  const int64_t d = wrap_dim(c.attrs.get<IndexAddAttrs>().dim, x.dim(), c.name);
  Shape want = x.sizes();
  if (x.dim() > 0) want[d] = idx.numel();
  DS_CHECK(src.sizes() == want, c.name, "src has shape {}, expected {} for input {} and {} indices",
           shape_str(src.sizes()), shape_str(want), shape_str(x.sizes()), idx.numel());
  r.device = rules::common_device(c);
  r.outs.push_back({x.sizes(), x.dtype()});
  r.casts = {std::nullopt, kI64, x.dtype()};
}
TensorList index_add_vjp(const VjpCtx& c) {
  TensorList g(3);
  g[0] = c.grad[0];
  const auto& a = c.attrs.get<IndexAddAttrs>();
  if (c.needs_grad(2)) g[2] = index_select(c.grad[0], a.dim, c.in[1]) * a.alpha;
  return g;
}

// The dim that topk or sort works along.
int64_t topk_dim(const Attrs& a) {
  if (const auto* t = a.get_if<TopkAttrs>()) return t->dim;
  return a.get<SortAttrs>().dim;
}

// topk attrs: TopkAttrs; sort attrs: SortAttrs. Outputs: values, indices (int64).
void topk_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  const Tensor& x = c.in[0];
  DS_CHECK(x.dtype() != kBool, c.name, "is not defined for bool tensors");
  Shape out = x.sizes();
  if (x.dim() > 0) {
    const int64_t d = wrap_dim(topk_dim(c.attrs), x.dim(), c.name);
    if (c.op == OpId::topk) {
      const int64_t k = c.attrs.get<TopkAttrs>().k;
      DS_CHECK(k >= 0 && k <= x.sizes()[d], c.name, "k = {} is out of range for dimension {} of size {}", k, d,
               x.sizes()[d]);
      out[d] = k;
    }
  }
  r.device = x.device();
  r.outs.push_back({out, x.dtype()});
  r.outs.push_back({out, kI64});
}
TensorList topk_vjp(const VjpCtx& c) {
  const Shape& in = c.in_sizes[0];
  if (in.empty()) return {c.grad[0]};
  const int64_t d = wrap_dim(topk_dim(c.attrs), static_cast<int64_t>(in.size()), "topk");
  const Tensor& g = c.grad[0];
  return {scatter(zeros(in, {.dtype = g.dtype(), .device = g.device()}), d, c.out[1], g)};
}

using samples::make;
using samples::make1;
using samples::uniform;

Tensor idx(std::initializer_list<int64_t> v, IntArrayRef shape = {}) {
  return from_vector(std::vector<int64_t>(v), shape);
}

std::vector<BadCase> index_bad() {
  return {
      samples::bad("gather index out of range", [] { gather(ones({2, 3}), 1, idx({0, 3}, {1, 2})); },
                   "index 3 is out of bounds for dimension 1 with size 3"),
      samples::bad("float index", [] { index_select(ones({2, 3}), 0, ones({2})); }, "must be an integer tensor"),
      samples::bad("cat shapes", [] { cat({ones({2, 3}), ones({2, 4})}, 0); }, "sizes must match except in dimension 0"),
      samples::bad("cat of nothing", [] { cat({}, 0); }, "non-empty list"),
      samples::bad("topk k too big", [] { topk(ones({3}), 4); }, "k = 4 is out of range"),
      samples::bad("reflect pad too big", [] { pad(ones({1, 3}), {3, 0}, PadMode::Reflect); }, "smaller than dimension"),
      samples::bad("index_add src shape", [] { index_add(ones({3, 2}), 0, idx({0}), ones({2, 2})); }, "src has shape"),
      samples::bad("index_select out of range", [] { index_select(ones({3, 2}), 0, idx({-1})); }, "out of bounds"),
  };
}

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(cat) OpDef{.name = "cat", .attrs = &attrs_schema<DimAttrs>, .rule = cat_rule, .cpu = cpu::cat,
    .cuda = DS_CUDA_KERNEL(cat), .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes, .vjp = cat_vjp,
    .test = {.cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("dim 0", {uniform({2, 3}, dt, -1, 1, 1), uniform({1, 3}, dt, -1, 1, 2)},
              [](const TensorList& x) { return cat({x[0], x[1]}, 0); }),
        make1("dim 1, three inputs, one transposed", {uniform({2, 3}, dt, -1, 1, 3), samples::transposed({2, 2}, dt, -1, 1, 4),
                                                      uniform({2, 1}, dt, -1, 1, 5)},
              [](const TensorList& x) { return cat({x[0], x[1], x[2]}, -1); }),
        make1("hand-computed", {tensor({1.0, 2.0}).to(dt), tensor({3.0}).to(dt)},
              [](const TensorList& x) { return cat({x[0], x[1]}); })};
      v.back().expected = {{1, 2, 3}};
      return v; },
    .bad = index_bad, .gradgrad = true}};
DS_PRIMITIVE_ROW(flip) OpDef{.name = "flip", .attrs = &attrs_schema<DimsAttrs>, .rule = flip_rule, .cpu = cpu::flip,
    .cuda = DS_CUDA_KERNEL(flip), .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes, .vjp = flip_vjp,
    .test = {.cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("dims (0, 2)", {uniform({2, 3, 2}, dt, -1, 1, 1)}, [](const TensorList& x) { return flip(x[0], {0, 2}); }),
        make1("transposed", {samples::transposed({3, 2}, dt, -1, 1, 2)}, [](const TensorList& x) { return flip(x[0], {-1}); }),
        make1("hand-computed", {tensor({1.0, 2.0, 3.0}).to(dt)}, [](const TensorList& x) { return flip(x[0], {0}); })};
      v.back().expected = {{3, 2, 1}};
      return v; }}};
DS_PRIMITIVE_ROW(pad) OpDef{.name = "pad", .attrs = &attrs_schema<PadAttrs>, .rule = pad_rule, .cpu = cpu::pad,
    .cuda = DS_CUDA_KERNEL(pad), .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes, .vjp = pad_vjp,
    .test = {.cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("constant, last two dims", {uniform({2, 3, 2}, dt, -1, 1, 1)},
              [](const TensorList& x) { return pad(x[0], {1, 2, 0, 1}, PadMode::Constant, 0.5); }),
        make1("constant, negative (crop)", {uniform({3, 4}, dt, -1, 1, 2)},
              [](const TensorList& x) { return pad(x[0], {-1, 2}); }),
        make1("reflect", {uniform({2, 3, 4}, dt, -1, 1, 3)},
              [](const TensorList& x) { return pad(x[0], {2, 1, 1, 2}, PadMode::Reflect); }),
        make1("reflect, transposed", {samples::transposed({3, 4}, dt, -1, 1, 4)},
              [](const TensorList& x) { return pad(x[0], {1, 1}, PadMode::Reflect); }),
        make1("hand-computed reflect", {tensor({1.0, 2.0, 3.0}).to(dt)},
              [](const TensorList& x) { return pad(x[0], {2, 1}, PadMode::Reflect); })};
      v.back().expected = {{3, 2, 1, 2, 3, 2}};
      return v; },
    .bad = index_bad, .gradgrad = true}};
DS_PRIMITIVE_ROW(gather) OpDef{.name = "gather", .attrs = &attrs_schema<DimAttrs>, .rule = gather_rule,
    .cpu = cpu::gather, .cuda = DS_CUDA_KERNEL(gather), .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes,
    .vjp = gather_vjp, .save_in = 2, .test = {.cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("dim 1", {uniform({3, 4}, dt, -1, 1, 1), idx({0, 3, 3, 1, 2, 0}, {3, 2})},
              [](const TensorList& x) { return gather(x[0], 1, x[1]); }, 1),
        make1("dim 0, transposed input", {samples::transposed({3, 2}, dt, -1, 1, 2), idx({2, 0, 1, 1}, {2, 2})},
              [](const TensorList& x) { return gather(x[0], 0, x[1]); }, 1),
        make1("hand-computed", {tensor({{1.0, 2.0}, {3.0, 4.0}}).to(dt), idx({1, 1, 0, 1}, {2, 2})},
              [](const TensorList& x) { return gather(x[0], 1, x[1]); }, 1)};
      v.back().expected = {{2, 2, 3, 4}};
      return v; },
    .bad = index_bad, .gradgrad = true}};
DS_PRIMITIVE_ROW(scatter) OpDef{.name = "scatter", .attrs = &attrs_schema<DimAttrs>, .rule = scatter_rule,
    .cpu = cpu::scatter, .cuda = DS_CUDA_KERNEL(scatter), .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes,
    .vjp = scatter_vjp, .save_in = 2, .test = {.cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("dim 1, distinct indices", {uniform({2, 4}, dt, -1, 1, 1), idx({3, 0, 1, 2}, {2, 2}), uniform({2, 3}, dt, -1, 1, 2)},
              [](const TensorList& x) { return scatter(x[0], 1, x[1], x[2]); }, 5),
        make1("hand-computed", {tensor({0.0, 0.0, 0.0}).to(dt), idx({2, 0}), tensor({5.0, 7.0}).to(dt)},
              [](const TensorList& x) { return scatter(x[0], 0, x[1], x[2]); }, 5)};
      v.back().expected = {{7, 0, 5}};
      return v; }}};
DS_PRIMITIVE_ROW(scatter_add) OpDef{.name = "scatter_add", .attrs = &attrs_schema<DimAttrs>, .rule = scatter_rule,
    .cpu = cpu::scatter_add, .cuda = DS_CUDA_KERNEL(scatter_add), .cpu_dtypes = kAllTypes,
    .cuda_dtypes = kAllTypes, .vjp = scatter_add_vjp, .save_in = 2, .nondeterministic_cuda = true,
    .test = {.cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("dim 0, repeated indices", {uniform({3, 2}, dt, -1, 1, 1), idx({0, 2, 0, 0, 1, 2}, {3, 2}), uniform({3, 2}, dt, -1, 1, 2)},
              [](const TensorList& x) { return scatter_add(x[0], 0, x[1], x[2]); }, 5),
        make1("hand-computed", {tensor({1.0, 1.0, 1.0}).to(dt), idx({2, 2, 0}), tensor({5.0, 7.0, 1.0}).to(dt)},
              [](const TensorList& x) { return scatter_add(x[0], 0, x[1], x[2]); }, 5)};
      v.back().expected = {{2, 1, 13}};
      return v; },
    .gradgrad = true}};
DS_PRIMITIVE_ROW(index_select) OpDef{.name = "index_select", .attrs = &attrs_schema<DimAttrs>,
    .rule = index_select_rule, .cpu = cpu::index_select, .cuda = DS_CUDA_KERNEL(index_select), .cpu_dtypes = kAllTypes,
    .cuda_dtypes = kAllTypes, .vjp = index_select_vjp, .save_in = 2, .test = {.cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("dim 0 with repeats", {uniform({4, 3}, dt, -1, 1, 1), idx({3, 0, 3})},
              [](const TensorList& x) { return index_select(x[0], 0, x[1]); }, 1),
        make1("dim 1, transposed", {samples::transposed({3, 4}, dt, -1, 1, 2), idx({1, 1, 0})},
              [](const TensorList& x) { return index_select(x[0], 1, x[1]); }, 1),
        make1("hand-computed", {tensor({10.0, 20.0, 30.0}).to(dt), idx({2, 0})},
              [](const TensorList& x) { return index_select(x[0], 0, x[1]); }, 1)};
      v.back().expected = {{30, 10}};
      return v; },
    .bad = index_bad, .gradgrad = true}};
DS_PRIMITIVE_ROW(index_add) OpDef{.name = "index_add", .attrs = &attrs_schema<IndexAddAttrs>, .rule = index_add_rule,
    .cpu = cpu::index_add, .cuda = DS_CUDA_KERNEL(index_add), .cpu_dtypes = kFloatTypes | kIntTypes,
    .cuda_dtypes = kFloatTypes | kIntTypes, .vjp = index_add_vjp, .save_in = 2, .nondeterministic_cuda = true,
    .test = {.cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("dim 0 with repeats", {uniform({3, 2}, dt, -1, 1, 1), idx({2, 0, 2}), uniform({3, 2}, dt, -1, 1, 2)},
              [](const TensorList& x) { return index_add(x[0], 0, x[1], x[2], 0.5); }, 5),
        make1("dim 1", {uniform({2, 4}, dt, -1, 1, 3), idx({3, 1}), uniform({2, 2}, dt, -1, 1, 4)},
              [](const TensorList& x) { return index_add(x[0], 1, x[1], x[2]); }, 5),
        make1("hand-computed", {tensor({1.0, 1.0, 1.0}).to(dt), idx({0, 0}), tensor({2.0, 3.0}).to(dt)},
              [](const TensorList& x) { return index_add(x[0], 0, x[1], x[2]); }, 5)};
      v.back().expected = {{6, 1, 1}};
      return v; },
    .bad = index_bad, .gradgrad = true}};
DS_PRIMITIVE_ROW(topk) OpDef{.name = "topk", .attrs = &attrs_schema<TopkAttrs>, .rule = topk_rule, .cpu = cpu::topk,
    .cuda = DS_CUDA_KERNEL(topk), .cpu_dtypes = kFloatTypes | kIntTypes, .cuda_dtypes = kFloatTypes | kIntTypes,
    .vjp = topk_vjp, .save_out = 2, .test = {.cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make("k 2 of rows", {uniform({3, 5}, dt, -1, 1, 1)},
             [](const TensorList& x) { auto r = topk(x[0], 2); return TensorList{r.values, r.indices}; }),
        make("smallest, dim 0", {uniform({4, 3}, dt, -1, 1, 2)},
             [](const TensorList& x) { auto r = topk(x[0], 3, 0, false); return TensorList{r.values, r.indices}; }),
        make("hand-computed", {tensor({1.0, 9.0, 4.0, 7.0}).to(dt)},
             [](const TensorList& x) { auto r = topk(x[0], 2); return TensorList{r.values, r.indices}; })};
      v.back().expected = {{9, 7}, {1, 3}};
      return v; },
    .bad = index_bad}};
DS_PRIMITIVE_ROW(sort) OpDef{.name = "sort", .attrs = &attrs_schema<SortAttrs>, .rule = topk_rule, .cpu = cpu::sort,
    .cuda = DS_CUDA_KERNEL(sort), .cpu_dtypes = kFloatTypes | kIntTypes, .cuda_dtypes = kFloatTypes | kIntTypes,
    .vjp = topk_vjp, .save_out = 2, .test = {.cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make("rows", {uniform({3, 4}, dt, -1, 1, 1)},
             [](const TensorList& x) { auto r = sort(x[0]); return TensorList{r.values, r.indices}; }),
        make("descending dim 0, transposed", {samples::transposed({3, 4}, dt, -1, 1, 2)},
             [](const TensorList& x) { auto r = sort(x[0], 0, true); return TensorList{r.values, r.indices}; }),
        make("hand-computed, stable (ties: no gradcheck)", {tensor({3.0, 1.0, 3.0, 0.0}).to(dt)},
             [](const TensorList& x) { auto r = sort(x[0]); return TensorList{r.values, r.indices}; }, 0)};
      v.back().expected = {{0, 1, 3, 3}, {3, 1, 0, 2}};
      return v; }}};
// clang-format on

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  return call_op1(OpId::cat, std::span<const Tensor>(tensors.data(), tensors.size()), DimAttrs{.dim = dim});
}
Tensor flip(const Tensor& x, IntArrayRef dims) {
  return call_op1(OpId::flip, {x}, DimsAttrs{.dims = rules::normalize_dims(dims, x.dim(), "flip")});
}
Tensor pad(const Tensor& x, IntArrayRef pads, PadMode mode, double value) {
  return call_op1(OpId::pad, {x}, PadAttrs{.pads = pads.vec(), .mode = mode, .value = value});
}
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  return call_op1(OpId::gather, {x, index}, DimAttrs{.dim = dim});
}
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  return call_op1(OpId::scatter, {x, index, src}, DimAttrs{.dim = dim});
}
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, Scalar value) {
  return scatter(x, dim, index, full(index.sizes(), value, {.dtype = x.dtype(), .device = x.device()}));
}
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  return call_op1(OpId::scatter_add, {x, index, src}, DimAttrs{.dim = dim});
}
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  return call_op1(OpId::index_select, {x, index}, DimAttrs{.dim = dim});
}
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, double alpha) {
  return call_op1(OpId::index_add, {x, index, src}, IndexAddAttrs{.dim = dim, .alpha = alpha});
}
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  TensorList r = call_op(OpId::topk, {x}, TopkAttrs{.k = k, .dim = dim, .largest = largest, .sorted = sorted});
  return {r[0], r[1]};
}
ValuesIndices sort(const Tensor& x, int64_t dim, bool descending) {
  TensorList r = call_op(OpId::sort, {x}, SortAttrs{.dim = dim, .descending = descending});
  return {r[0], r[1]};
}

}  // namespace ds
