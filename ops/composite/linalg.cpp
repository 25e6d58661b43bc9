// Linear-algebra composites over matmul: mm, bmm, addmm, linear, outer, dot.
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/linalg.h>
#include <ds/ops/shape_ops.h>

#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {

Tensor mm(const Tensor& a, const Tensor& b) {
  DS_CHECK(a.dim() == 2 && b.dim() == 2, "mm", "{} @ {}: both operands must be 2-d", shape_str(a.sizes()),
           shape_str(b.sizes()));
  return matmul(a, b);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  DS_CHECK(a.dim() == 3 && b.dim() == 3, "bmm", "{} @ {}: both operands must be 3-d", shape_str(a.sizes()),
           shape_str(b.sizes()));
  DS_CHECK(a.size(0) == b.size(0), "bmm", "{} @ {}: batch sizes {} and {} differ", shape_str(a.sizes()),
           shape_str(b.sizes()), a.size(0), b.size(0));
  return matmul(a, b);
}

Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta, double alpha) {
  Tensor p = mm(a, b);
  if (alpha != 1) p = p * alpha;
  if (beta == 0) return p;
  return beta == 1 ? input + p : input * beta + p;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  DS_CHECK(weight.dim() == 2, "linear", "weight must be 2-d (out_features, in_features), got {}",
           shape_str(weight.sizes()));
  DS_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear",
           "input {} does not end in in_features = {} of weight {}", shape_str(x.sizes()), weight.size(1),
           shape_str(weight.sizes()));
  Tensor y = matmul(x, weight.t());
  if (bias.defined()) {
    DS_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear", "bias {} does not match out_features {}",
             shape_str(bias.sizes()), weight.size(0));
    y = y + bias;
  }
  return y;
}

Tensor outer(const Tensor& a, const Tensor& b) {
  DS_CHECK(a.dim() == 1 && b.dim() == 1, "outer", "expects two 1-d tensors, got {} and {}", shape_str(a.sizes()),
           shape_str(b.sizes()));
  return a.unsqueeze(1) * b.unsqueeze(0);
}

Tensor dot(const Tensor& a, const Tensor& b) {
  DS_CHECK(a.dim() == 1 && b.dim() == 1 && a.size(0) == b.size(0), "dot",
           "expects two 1-d tensors of the same length, got {} and {}", shape_str(a.sizes()), shape_str(b.sizes()));
  return matmul(a, b);
}

namespace {
using samples::make1;
using samples::uniform;
}  // namespace

// clang-format off
DS_COMPOSITE_ROW(mm) OpDef{.name = "mm", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) { return std::vector<OpCase>{make1("transposed b", {uniform({2, 3}, dt, -1, 1, 1), samples::transposed({3, 4}, dt, -1, 1, 2)},
                                                             [](const TensorList& x) { return mm(x[0], x[1]); })}; }}};
DS_COMPOSITE_ROW(bmm) OpDef{.name = "bmm", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) { return std::vector<OpCase>{make1("batch 2", {uniform({2, 2, 3}, dt, -1, 1, 1), uniform({2, 3, 2}, dt, -1, 1, 2)},
                                                             [](const TensorList& x) { return bmm(x[0], x[1]); })}; }, .gradgrad = true}};
DS_COMPOSITE_ROW(addmm) OpDef{.name = "addmm", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) { return std::vector<OpCase>{make1("beta 0.5 alpha 2, broadcast bias",
        {uniform({3}, dt, -1, 1, 1), uniform({2, 4}, dt, -1, 1, 2), uniform({4, 3}, dt, -1, 1, 3)},
        [](const TensorList& x) { return addmm(x[0], x[1], x[2], 0.5, 2); })}; }}};
DS_COMPOSITE_ROW(linear) OpDef{.name = "linear", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
          make1("3-d input with bias", {uniform({2, 3, 4}, dt, -1, 1, 1), uniform({5, 4}, dt, -1, 1, 2), uniform({5}, dt, -1, 1, 3)},
                [](const TensorList& x) { return linear(x[0], x[1], x[2]); }),
          make1("hand-computed", {tensor({{1.0, 2.0}}).to(dt), tensor({{1.0, 0.0}, {1.0, 1.0}, {0.0, 2.0}}).to(dt), tensor({0.5, 0.0, -1.0}).to(dt)},
                [](const TensorList& x) { return linear(x[0], x[1], x[2]); })};
      v.back().expected = {{1.5, 3, 3}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{samples::bad("in_features", [] { linear(ones({2, 3}), ones({4, 5})); }, "in_features = 5")}; },
    .gradgrad = true}};
DS_COMPOSITE_ROW(outer) OpDef{.name = "outer", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{make1("hand-computed", {tensor({1.0, 2.0}).to(dt), tensor({3.0, 4.0, 5.0}).to(dt)},
                                         [](const TensorList& x) { return outer(x[0], x[1]); })};
      v.back().expected = {{3, 4, 5, 6, 8, 10}};
      return v;
    }}};
DS_COMPOSITE_ROW(dot) OpDef{.name = "dot", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{make1("hand-computed", {tensor({1.0, 2.0, 3.0}).to(dt), tensor({4.0, -5.0, 6.0}).to(dt)},
                                         [](const TensorList& x) { return dot(x[0], x[1]); })};
      v.back().expected = {{12}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{samples::bad("lengths", [] { dot(ones({2}), ones({3})); }, "same length")}; }}};
// clang-format on

}  // namespace ds
