// Gradient clipping by joint norm and by value.
#include "clip_grad.h"

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

namespace ds::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  DS_CHECK(norm_type > 0, "clip_grad_norm_", "norm_type must be positive or INFINITY, got {}", norm_type);
  DS_CHECK(max_norm >= 0, "clip_grad_norm_", "max_norm must be non-negative, got {}", max_norm);
  NoGradGuard no_grad;
  std::vector<Tensor> grads, norms;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    // Per-tensor norms in the gradient's dtype (as torch), joined in double: one host read for all tensors.
    norms.push_back(norm(g, norm_type).to(kF64));
    grads.push_back(std::move(g));
  }
  if (grads.empty()) return 0.0;
  const Tensor all = norms.size() == 1 ? norms[0] : stack(norms);
  const double total = norm(all, norm_type).to(kCPU).item<double>();
  if (error_if_nonfinite && !std::isfinite(total))
    DS_FAIL("clip_grad_norm_",
            "the total norm of order {} of the gradients of {} tensors is non-finite ({}), so they cannot be "
            "clipped; pass error_if_nonfinite = false to clip anyway",
            norm_type, grads.size(), total);
  const double coef = max_norm / (total + 1e-6);
  if (!(coef >= 1))  // coef < 1, or NaN (as torch, which multiplies by clamp(coef, max = 1) unconditionally)
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
