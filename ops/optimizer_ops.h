#pragma once
// Fused optimizer updates: one pass over a parameter and its state instead of a dozen elementwise ops with
// temporaries. Primitives like any op (they go through the dispatcher); ds::optim uses them where they apply.
#include <ds/ops/tensor.h>

namespace ds {

// adam_step_ passes lr and step to the op as 0-d CPU tensors (inputs, so a traced step replays with new values), the
// rest as its AdamAttrs.
struct AdamStepOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  int64_t step = 1;         // the parameter's update count, this update included (for the bias corrections)
  bool decoupled = false;   // AdamW: p *= 1 - lr * weight_decay; else Adam's L2: g += weight_decay * p
  bool maximize = false;    // g = -grad
};

// One Adam/AdamW update, in place, as torch.optim.Adam(W) without amsgrad (the formulas of ds::optim::Adam):
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// param, grad, exp_avg (m) and exp_avg_sq (v): one shape, one floating dtype, contiguous. Writes param, exp_avg and
// exp_avg_sq (bumping their versions); outside autograd only (call it under NoGradGuard or on tensors without
// history).
void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStepOptions& options);
// The same, with the learning rate and the step number read from 0-d CPU tensors (f64 and int64) instead of
// options.lr and options.step: an optimizer that keeps them in tensors it refreshes in a host effect
// (run_host_effect, ops/dispatch.h) gets a traced step that replays with the current values.
void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const Tensor& lr,
                const Tensor& step, const AdamStepOptions& options);

}  // namespace ds
