// Indexing composites: embedding, one_hot, argsort.
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {

// Rows of weight at indices; the backward is index_select's (an index_add into a zero table), and padding_idx's row
// gets no gradient.
Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx) {
  DS_CHECK(weight.dim() == 2, "embedding", "weight must be 2-d (num_embeddings, dim), got {}", shape_str(weight.sizes()));
  DS_CHECK(is_integral(indices.dtype()), "embedding", "indices must be an integer tensor, got {}",
           dtype_name(indices.dtype()));
  Tensor w = weight;
  if (padding_idx) {
    const int64_t p = *padding_idx < 0 ? *padding_idx + weight.size(0) : *padding_idx;
    DS_CHECK(p >= 0 && p < weight.size(0), "embedding", "padding_idx {} is out of range for {} embeddings",
             *padding_idx, weight.size(0));
    const Tensor keep = arange(0, weight.size(0), 1, TensorOptions{.dtype = kI64, .device = weight.device()}) != p;
    w = where(keep.unsqueeze(1), weight, weight.detach());
  }
  Shape out = indices.sizes();
  out.push_back(weight.size(1));
  return index_select(w, 0, indices.reshape({-1})).reshape(out);
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  DS_CHECK(is_integral(indices.dtype()), "one_hot", "indices must be an integer tensor, got {}",
           dtype_name(indices.dtype()));
  DS_CHECK(num_classes >= 0 || !indices.device().is_meta(), "one_hot", "the number of classes of meta indices "
           "(shape {}) cannot be read from their values; pass num_classes", shape_str(indices.sizes()));
  if (num_classes < 0) num_classes = indices.numel() ? max(indices).item<int64_t>() + 1 : 0;
  if (indices.numel() && !indices.device().is_meta()) {  // a meta tensor has no values to check
    const int64_t lo = min(indices).item<int64_t>(), hi = max(indices).item<int64_t>();
    DS_CHECK(lo >= 0 && hi < num_classes, "one_hot", "class values must be in [0, {}), got {} to {}", num_classes, lo,
             hi);
  }
  const Tensor classes = arange(0, num_classes, 1, TensorOptions{.dtype = indices.dtype(), .device = indices.device()});
  return (indices.unsqueeze(-1) == classes).to(kI64);
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending) { return sort(x, dim, descending).indices; }

namespace {
using samples::make1;
using samples::uniform;
Tensor ids(std::vector<int64_t> v, IntArrayRef shape = {}) { return from_vector(v, shape); }
}  // namespace

// clang-format off
DS_COMPOSITE_ROW(embedding) OpDef{.name = "embedding", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("2-d indices with repeats", {uniform({5, 3}, dt, -1, 1, 1), ids({4, 0, 4, 2}, {2, 2})},
              [](const TensorList& x) { return embedding(x[0], x[1]); }, 1),
        // padding_idx's row deliberately gets no gradient, so finite differences disagree there by design:
        // forward only here; tests/autograd checks the zero row.
        make1("padding_idx", {uniform({4, 2}, dt, -1, 1, 2), ids({1, 3, 1})},
              [](const TensorList& x) { return embedding(x[0], x[1], 1); }, 0),
        make1("hand-computed", {tensor({{0.0, 1.0}, {2.0, 3.0}}).to(dt), ids({1, 0, 1})},
              [](const TensorList& x) { return embedding(x[0], x[1]); }, 1)};
      v.back().expected = {{2, 3, 0, 1, 2, 3}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{
      samples::bad("index out of range", [] { embedding(ones({3, 2}), ids({3})); }, "index 3 is out of bounds"),
      samples::bad("float indices", [] { embedding(ones({3, 2}), ones({2})); }, "must be an integer tensor")}; },
    .gradgrad = true}};
DS_COMPOSITE_ROW(one_hot) OpDef{.name = "one_hot", .kind = OpKind::Composite,
    .cpu_dtypes = {kI64}, .differentiable_composite = false, .test = {
    .cases = [](DType) {
      auto v = std::vector<OpCase>{make1("hand-computed", {ids({2, 0})}, [](const TensorList& x) { return one_hot(x[0], 3); })};
      v.back().expected = {{0, 0, 1, 1, 0, 0}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{samples::bad("class too large", [] { one_hot(ids({3}), 3); }, "must be in [0, 3)")}; }}};
DS_COMPOSITE_ROW(argsort) OpDef{.name = "argsort", .kind = OpKind::Composite,
    .cpu_dtypes = kFloatTypes | kIntTypes, .differentiable_composite = false, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{make1("descending", {tensor({0.5, 2.0, -1.0}).to(dt)}, [](const TensorList& x) { return argsort(x[0], 0, true); })};
      v.back().expected = {{1, 0, 2}};
      return v;
    }}};
// clang-format on

}  // namespace ds
