// Gradient clipping by joint norm and by value.
#include "clip_grad.h"

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

namespace ds::optim {

namespace {

// The gradients of params (those that have one) and their joint norm (undefined when none has a gradient).
std::pair<std::vector<Tensor>, Tensor> joint_norm(const std::vector<Tensor>& params, double norm_type,
                                                  std::string_view op) {
  DS_CHECK(norm_type > 0, op, "norm_type must be positive or INFINITY, got {}", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads, norms;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    // Per-tensor norms in the gradient's dtype (as torch), joined in double.
    norms.push_back(norm(g, norm_type).to(kF64));
    grads.push_back(std::move(g));
  }
  if (grads.empty()) return {};
  const Tensor all = norms.size() == 1 ? norms[0] : stack(norms);
  return {std::move(grads), norm(all, norm_type)};
}

}  // namespace

Tensor grad_norm(const std::vector<Tensor>& params, double norm_type) {
  Tensor total = joint_norm(params, norm_type, "grad_norm").second;
  return total.defined() ? total : zeros({}, {.dtype = kF64});
}

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  DS_CHECK(max_norm >= 0, "clip_grad_norm_", "max_norm must be non-negative, got {}", max_norm);
  auto [grads, total] = joint_norm(params, norm_type, "clip_grad_norm_");
  if (grads.empty()) return zeros({}, {.dtype = kF64});
  if (error_if_nonfinite) {
    // The one host read, and only on request (under ds::compile it is a graph break).
    const double t = total.to(kCPU).item<double>();
    if (!std::isfinite(t))
      DS_FAIL("clip_grad_norm_",
              "the total norm of order {} of the gradients of {} tensors is non-finite ({}), so they cannot be "
              "clipped; pass error_if_nonfinite = false to clip anyway",
              norm_type, grads.size(), t);
  }
  // On the device, no host read: the gradients are always multiplied, by 1 when the total is below max_norm (an
  // exact no-op), as torch does; NaN passes through clamp.
  NoGradGuard no_grad;
  const Tensor coef = clamp(max_norm / (total + 1e-6), std::nullopt, 1.0);
  for (Tensor& g : grads) g.mul_(coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  DS_CHECK(clip_value >= 0, "clip_grad_value_", "clip_value must be non-negative, got {}", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) g.clamp_(-clip_value, clip_value);
  }
}

}  // namespace ds::optim
