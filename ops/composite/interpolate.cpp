// interpolate (torch.nn.functional.interpolate) for images (N, C, H, W): nearest picks rows and columns by
// index_select; bilinear is separable, so it is two interpolation matrices, out = A_h @ x @ A_w^T, exact and
// differentiable twice.
#include <cmath>

#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/linalg.h>
#include <ds/ops/nn_functional.h>

#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

// Source coordinate of output index i: torch's area_pixel_compute_source_index. `scale` is in / out, or
// 1 / scale_factor when the caller gave one.
double source_index(int64_t i, double scale, bool align_corners, int64_t in, int64_t out, bool cubic_like) {
  if (align_corners) return out > 1 ? static_cast<double>(i) * static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  const double s = (static_cast<double>(i) + 0.5) * scale - 0.5;
  return (!cubic_like && s < 0) ? 0.0 : s;
}

Tensor linear_matrix(int64_t out, int64_t in, double scale, bool align_corners, const Tensor& like) {
  std::vector<double> m(static_cast<size_t>(out * in), 0.0);
  for (int64_t i = 0; i < out; ++i) {
    const double src = source_index(i, scale, align_corners, in, out, false);
    const auto i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(src)), in - 1);
    const int64_t i1 = std::min<int64_t>(i0 + 1, in - 1);
    const double l1 = src - static_cast<double>(i0), l0 = 1.0 - l1;
    m[static_cast<size_t>(i * in + i0)] += l0;
    m[static_cast<size_t>(i * in + i1)] += l1;
  }
  return from_vector(m, {out, in}).to(like.dtype()).to(like.device());
}

Tensor nearest_index(int64_t out, int64_t in, double scale, const Tensor& like) {
  std::vector<int64_t> idx(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i)
    idx[static_cast<size_t>(i)] = std::min<int64_t>(static_cast<int64_t>(std::floor(static_cast<double>(i) * scale)), in - 1);
  return from_vector(idx, {out}).to(like.device());
}

}  // namespace

Tensor interpolate(const Tensor& x, const InterpolateOptions& o) {
  const std::string_view op = "interpolate";
  DS_CHECK(x.dim() == 4, op, "expects input (N, C, H, W), got {}", shape_str(x.sizes()));
  DS_CHECK(is_floating(x.dtype()), op, "expects a floating input, got {}", dtype_name(x.dtype()));
  DS_CHECK(o.size.empty() != o.scale_factor.empty(), op, "give exactly one of size and scale_factor");
  DS_CHECK(!(o.align_corners && o.mode == InterpolateMode::Nearest), op, "align_corners is only for bilinear mode");
  const int64_t H = x.size(2), W = x.size(3);
  Shape out;
  double scale_h, scale_w;
  if (!o.size.empty()) {
    out = rules::expand_pair(o.size, op);
    scale_h = static_cast<double>(H) / static_cast<double>(out[0]);
    scale_w = static_cast<double>(W) / static_cast<double>(out[1]);
  } else {
    DS_CHECK(o.scale_factor.size() == 1 || o.scale_factor.size() == 2, op, "scale_factor takes 1 or 2 values");
    const double fh = o.scale_factor[0], fw = o.scale_factor.back();
    DS_CHECK(fh > 0 && fw > 0, op, "scale_factor must be positive, got {}", fmt::join(o.scale_factor, ", "));
    out = {static_cast<int64_t>(std::floor(static_cast<double>(H) * fh)), static_cast<int64_t>(std::floor(static_cast<double>(W) * fw))};
    scale_h = 1.0 / fh;
    scale_w = 1.0 / fw;
  }
  DS_CHECK(out[0] > 0 && out[1] > 0, op, "output size {} must be positive (input {})", shape_str(out), shape_str(x.sizes()));
  if (o.mode == InterpolateMode::Nearest)
    return index_select(index_select(x, 2, nearest_index(out[0], H, scale_h, x)), 3, nearest_index(out[1], W, scale_w, x));
  return matmul(matmul(linear_matrix(out[0], H, scale_h, o.align_corners, x), x),
                linear_matrix(out[1], W, scale_w, o.align_corners, x).t());
}

namespace {
using samples::make1;
using samples::uniform;
}  // namespace

// clang-format off
DS_COMPOSITE_ROW(interpolate) OpDef{.name = "interpolate", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("nearest x2", {uniform({1, 2, 2, 3}, dt, -2, 2, 1)}, [](const TensorList& x) {
          return interpolate(x[0], {.scale_factor = {2.0}}); }),
        make1("bilinear to 5x3", {uniform({2, 1, 3, 4}, dt, -2, 2, 2)}, [](const TensorList& x) {
          return interpolate(x[0], {.size = {5, 3}, .mode = InterpolateMode::Bilinear}); }),
        make1("bilinear align_corners", {uniform({1, 1, 3, 3}, dt, -2, 2, 3)}, [](const TensorList& x) {
          return interpolate(x[0], {.size = {4, 5}, .mode = InterpolateMode::Bilinear, .align_corners = true}); }),
        // [0, 1] upsampled x2 by bilinear (half-pixel): 0, 0.25, 0.75, 1
        make1("hand-computed bilinear x2", {tensor({0.0, 1.0}).reshape({1, 1, 1, 2}).to(dt)}, [](const TensorList& x) {
          return interpolate(x[0], {.scale_factor = {1.0, 2.0}, .mode = InterpolateMode::Bilinear}); }),
        make1("hand-computed nearest 3 -> 2", {tensor({1.0, 2.0, 3.0}).reshape({1, 1, 1, 3}).to(dt)}, [](const TensorList& x) {
          return interpolate(x[0], {.size = {1, 2}}); })};
      v[3].expected = {{0, 0.25, 0.75, 1}};
      v[4].expected = {{1, 2}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{
      samples::bad("both size and scale", [] { interpolate(ones({1, 1, 2, 2}), {.size = {4}, .scale_factor = {2.0}}); }, "exactly one of size"),
      samples::bad("3-d", [] { interpolate(ones({1, 2, 2}), {.size = {4}}); }, "expects input (N, C, H, W)")}; },
    .gradgrad = true}};
// clang-format on

}  // namespace ds
