// Rows of the factory composites (zeros, ones and the *_like forms); their front functions are in defs/factory.cpp.
#include <ds/ops/factory.h>

#include "../detail/samples.h"

namespace ds {
namespace {
using samples::make1;

OpDef factory_row(std::string_view name, std::vector<OpCase> (*cases)(DType)) {
  return OpDef{.name = name, .kind = OpKind::Composite, .cpu_dtypes = kAllTypes, .differentiable_composite = false,
               .test = {.cases = cases}};
}
}  // namespace

// clang-format off
DS_COMPOSITE_ROW(zeros) factory_row("zeros", [](DType dt) {
  auto v = std::vector<OpCase>{make1("[2, 2]", {}, [dt](const TensorList&) { return zeros({2, 2}, {.dtype = dt}); })};
  v.back().expected = {{0, 0, 0, 0}};
  return v; });
DS_COMPOSITE_ROW(ones) factory_row("ones", [](DType dt) {
  auto v = std::vector<OpCase>{make1("[3]", {}, [dt](const TensorList&) { return ones({3}, {.dtype = dt}); })};
  v.back().expected = {{1, 1, 1}};
  return v; });
DS_COMPOSITE_ROW(zeros_like) factory_row("zeros_like", [](DType dt) {
  auto v = std::vector<OpCase>{make1("like a transposed tensor", {ones({2, 3}, {.dtype = dt}).t()},
                                     [](const TensorList& x) { return zeros_like(x[0]); })};
  v.back().expected = {{0, 0, 0, 0, 0, 0}};
  return v; });
DS_COMPOSITE_ROW(ones_like) factory_row("ones_like", [](DType dt) {
  auto v = std::vector<OpCase>{make1("[2]", {zeros({2}, {.dtype = dt})}, [](const TensorList& x) { return ones_like(x[0]); })};
  v.back().expected = {{1, 1}};
  return v; });
DS_COMPOSITE_ROW(full_like) factory_row("full_like", [](DType dt) {
  auto v = std::vector<OpCase>{make1("[2] of 1", {zeros({2}, {.dtype = dt})}, [](const TensorList& x) { return full_like(x[0], 1); })};
  v.back().expected = {{1, 1}};
  return v; });
// clang-format on

}  // namespace ds
