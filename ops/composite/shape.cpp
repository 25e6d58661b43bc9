// Shape composites: reshape, flatten, transpose, t, narrow, contiguous, clone, to, stack, split, chunk, roll, repeat.
#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/shape_ops.h>

#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {

Tensor reshape(const Tensor& x, IntArrayRef shape) {
  const Shape s = rules::infer_size(shape, x.numel(), "reshape");
  if (rules::view_strides(x.sizes(), x.strides(), s)) return view(x, s);
  return view(contiguous(x), s);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return x.reshape({1});
  const int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  DS_CHECK(s <= e, "flatten", "start_dim {} comes after end_dim {}", start_dim, end_dim);
  Shape shape;
  for (int64_t d = 0; d < s; ++d) shape.push_back(x.sizes()[d]);
  shape.push_back(-1);
  for (int64_t d = e + 1; d < x.dim(); ++d) shape.push_back(x.sizes()[d]);
  if (x.numel() == 0) {
    int64_t n = 1;
    for (int64_t d = s; d <= e; ++d) n *= x.sizes()[d];
    shape[static_cast<size_t>(s)] = n;
  }
  return reshape(x, shape);
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  if (x.dim() == 0) return x;
  Shape perm;
  for (int64_t d = 0; d < x.dim(); ++d) perm.push_back(d);
  std::swap(perm[wrap_dim(dim0, x.dim(), "transpose")], perm[wrap_dim(dim1, x.dim(), "transpose")]);
  return permute(x, perm);
}

Tensor t(const Tensor& x) {
  DS_CHECK(x.dim() <= 2, "t", "expects a tensor of at most 2 dimensions, got shape {} (use transpose or mT)",
           shape_str(x.sizes()));
  return x.dim() < 2 ? x : transpose(x, 0, 1);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  const int64_t d = wrap_dim(dim, x.dim(), "narrow");
  const int64_t n = x.sizes()[d];
  if (start < 0) start += n;
  DS_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow",
           "start {} and length {} exceed dimension {} of size {}", start, length, d, n);
  return slice(x, d, start, start + length);
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : call_op1(OpId::copy, {x}, CopyAttrs{x.dtype()}); }
Tensor clone(const Tensor& x) { return call_op1(OpId::copy, {x}, CopyAttrs{x.dtype()}); }
Tensor to(const Tensor& x, DType dtype) { return x.dtype() == dtype ? x : call_op1(OpId::copy, {x}, CopyAttrs{dtype}); }

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  DS_CHECK(!tensors.empty(), "stack", "expects a non-empty list of tensors");
  const int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    DS_CHECK(tensors[i].sizes() == tensors[0].sizes(), "stack", "tensor {} has shape {}, but tensor 0 has {}", i,
             shape_str(tensors[i].sizes()), shape_str(tensors[0].sizes()));
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim(), "split");
  DS_CHECK(split_size > 0 || x.sizes()[d] == 0, "split", "split_size must be positive, got {}", split_size);
  std::vector<Tensor> out;
  for (int64_t s = 0; s < x.sizes()[d]; s += split_size) out.push_back(narrow(x, d, s, std::min(split_size, x.sizes()[d] - s)));
  if (out.empty()) out.push_back(x);
  return out;
}

std::vector<Tensor> split(const Tensor& x, std::vector<int64_t> sizes, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  DS_CHECK(total == x.sizes()[d], "split", "sizes {} sum to {}, not to dimension {}'s size {}", shape_str(sizes), total,
           d, x.sizes()[d]);
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(x, d, at, s));
    at += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  DS_CHECK(chunks > 0, "chunk", "chunks must be positive, got {}", chunks);
  const int64_t n = x.sizes()[wrap_dim(dim, x.dim(), "chunk")];
  return split(x, std::max<int64_t>(1, (n + chunks - 1) / chunks), dim);
}

Tensor roll(const Tensor& x, int64_t shift, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim(), "roll");
  const int64_t n = x.sizes()[d];
  if (n == 0) return clone(x);
  const int64_t s = ((shift % n) + n) % n;
  if (s == 0) return clone(x);
  return cat({narrow(x, d, n - s, s), narrow(x, d, 0, n - s)}, d);
}

Tensor repeat(const Tensor& x, IntArrayRef repeats) {
  DS_CHECK(repeats.size() >= static_cast<size_t>(x.dim()), "repeat",
           "{} repeat counts for a tensor of {} dimensions (need at least as many)", repeats.size(), x.dim());
  const size_t lead = repeats.size() - static_cast<size_t>(x.dim());
  // x viewed as [1, s0, 1, s1, ...], expanded to [r0, s0, r1, s1, ...], then merged pairwise.
  Shape interleaved, expanded, out;
  for (size_t i = 0; i < repeats.size(); ++i) {
    DS_CHECK(repeats[i] >= 0, "repeat", "repeat counts must be non-negative, got {}", shape_str(repeats));
    const int64_t s = i < lead ? 1 : x.sizes()[i - lead];
    interleaved.push_back(1);
    interleaved.push_back(s);
    expanded.push_back(repeats[i]);
    expanded.push_back(s);
    out.push_back(repeats[i] * s);
  }
  return reshape(contiguous(x).reshape(interleaved).expand(expanded), out);
}

namespace {
using samples::make1;
using samples::uniform;
OpDef shape_row(std::string_view name, std::vector<OpCase> (*cases)(DType), std::vector<BadCase> (*bad)() = nullptr,
                double atol = 1e-6) {
  return OpDef{.name = name, .kind = OpKind::Composite, .cpu_dtypes = kAllTypes,
               .test = {.cases = cases, .bad = bad, .atol = atol}};
}
}  // namespace

// clang-format off
DS_COMPOSITE_ROW(reshape) shape_row("reshape", [](DType dt) { return std::vector<OpCase>{
    make1("contiguous (a view)", {uniform({2, 6}, dt, -1, 1, 1)}, [](const TensorList& x) { return reshape(x[0], {3, 2, 2}); }),
    make1("transposed (a copy)", {samples::transposed({2, 6}, dt, -1, 1, 2)}, [](const TensorList& x) { return reshape(x[0], {-1}); })}; });
DS_COMPOSITE_ROW(flatten) shape_row("flatten", [](DType dt) { return std::vector<OpCase>{
    make1("dims 1..2", {uniform({2, 3, 2, 2}, dt, -1, 1, 1)}, [](const TensorList& x) { return flatten(x[0], 1, 2); })}; },
    [] { return std::vector<BadCase>{samples::bad("start after end", [] { flatten(ones({2, 2}), 1, 0); }, "comes after end_dim")}; });
DS_COMPOSITE_ROW(transpose) shape_row("transpose", [](DType dt) { return std::vector<OpCase>{
    make1("dims 0 and 2", {uniform({2, 3, 4}, dt, -1, 1, 1)}, [](const TensorList& x) { return transpose(x[0], 0, 2); })}; });
DS_COMPOSITE_ROW(t) shape_row("t", [](DType dt) { return std::vector<OpCase>{
    make1("matrix", {uniform({2, 3}, dt, -1, 1, 1)}, [](const TensorList& x) { return t(x[0]); })}; },
    [] { return std::vector<BadCase>{samples::bad("3-d", [] { t(ones({2, 2, 2})); }, "at most 2 dimensions")}; });
DS_COMPOSITE_ROW(narrow) shape_row("narrow", [](DType dt) { return std::vector<OpCase>{
    make1("negative start", {uniform({5, 2}, dt, -1, 1, 1)}, [](const TensorList& x) { return narrow(x[0], 0, -3, 2); })}; },
    [] { return std::vector<BadCase>{samples::bad("too long", [] { narrow(ones({4}), 0, 2, 3); }, "exceed dimension 0 of size 4")}; });
DS_COMPOSITE_ROW(contiguous) shape_row("contiguous", [](DType dt) { return std::vector<OpCase>{
    make1("transposed", {samples::transposed({2, 3}, dt, -1, 1, 1)}, [](const TensorList& x) { return contiguous(x[0]); })}; });
DS_COMPOSITE_ROW(clone) shape_row("clone", [](DType dt) { return std::vector<OpCase>{
    make1("strided", {samples::strided({2, 3}, dt, -1, 1, 1)}, [](const TensorList& x) { return clone(x[0]); })}; });
// Finite differences through a float32 rounding are good to about 1e-2 only (eps 1e-6 against a spacing of 1e-7).
DS_COMPOSITE_ROW(to) shape_row("to", [](DType dt) { return std::vector<OpCase>{
    make1("to f32 and back", {uniform({2, 3}, dt, -1, 1, 1)}, [](const TensorList& x) { return to(to(x[0], kF32), x[0].dtype()); })}; },
    nullptr, 2e-2);
DS_COMPOSITE_ROW(stack) shape_row("stack", [](DType dt) {
    auto v = std::vector<OpCase>{
      make1("dim 1", {uniform({2, 3}, dt, -1, 1, 1), uniform({2, 3}, dt, -1, 1, 2)}, [](const TensorList& x) { return stack({x[0], x[1]}, 1); }),
      make1("hand-computed", {tensor({1.0, 2.0}).to(dt), tensor({3.0, 4.0}).to(dt)}, [](const TensorList& x) { return stack({x[0], x[1]}, 1); })};
    v.back().expected = {{1, 3, 2, 4}};
    return v; },
    [] { return std::vector<BadCase>{samples::bad("shapes differ", [] { stack({ones({2}), ones({3})}); }, "tensor 1 has shape [3]")}; });
DS_COMPOSITE_ROW(split) shape_row("split", [](DType dt) { return std::vector<OpCase>{
    samples::make("size 2 of 5", {uniform({5, 2}, dt, -1, 1, 1)}, [](const TensorList& x) {
      auto p = split(x[0], 2, 0); return TensorList(p.begin(), p.end()); }),
    samples::make("sizes (1, 3)", {uniform({2, 4}, dt, -1, 1, 2)}, [](const TensorList& x) {
      auto p = split(x[0], std::vector<int64_t>{1, 3}, 1); return TensorList(p.begin(), p.end()); })}; },
    [] { return std::vector<BadCase>{samples::bad("sizes sum", [] { split(ones({4}), std::vector<int64_t>{1, 2}, 0); }, "sum to 3")}; });
DS_COMPOSITE_ROW(chunk) shape_row("chunk", [](DType dt) { return std::vector<OpCase>{
    samples::make("3 chunks of 7", {uniform({7}, dt, -1, 1, 1)}, [](const TensorList& x) {
      auto p = chunk(x[0], 3); return TensorList(p.begin(), p.end()); })}; });
DS_COMPOSITE_ROW(roll) shape_row("roll", [](DType dt) {
    auto v = std::vector<OpCase>{
      make1("shift -1 dim 1", {uniform({2, 3}, dt, -1, 1, 1)}, [](const TensorList& x) { return roll(x[0], -1, 1); }),
      make1("hand-computed", {tensor({1.0, 2.0, 3.0, 4.0}).to(dt)}, [](const TensorList& x) { return roll(x[0], 1, 0); })};
    v.back().expected = {{4, 1, 2, 3}};
    return v; });
DS_COMPOSITE_ROW(repeat) shape_row("repeat", [](DType dt) {
    auto v = std::vector<OpCase>{
      make1("new leading dim", {uniform({2, 3}, dt, -1, 1, 1)}, [](const TensorList& x) { return repeat(x[0], {2, 1, 2}); }),
      make1("hand-computed", {tensor({1.0, 2.0}).to(dt)}, [](const TensorList& x) { return repeat(x[0], {2}); })};
    v.back().expected = {{1, 2, 1, 2}};
    return v; });
// clang-format on

}  // namespace ds
