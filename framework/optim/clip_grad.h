#pragma once
// Gradient clipping (torch.nn.utils.clip_grad_norm_ and clip_grad_value_). Both act on the .grad() of the given
// tensors, in place and outside autograd; tensors without a gradient are skipped.
#include <cmath>
#include <vector>

#include <ds/ops/tensor.h>

namespace ds::optim {

// Scales all gradients together so that their joint norm of order norm_type (INFINITY for the max-norm) is at most
// max_norm: each is multiplied by min(max_norm / (total + 1e-6), 1), on the gradients' device with no host read (so
// it compiles into a ds::compile graph). Returns the total norm before clipping as a 0-d float64 tensor on that
// device (0 when no tensor has a gradient); read it with item() where the host needs it. A non-finite total (an inf
// or NaN gradient) is returned as it is, and the gradients are then scaled as PyTorch does (they become NaN where not
// 0 after the scaling); with error_if_nonfinite it is an error instead (a host read), and no gradient is touched.
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
// The joint norm of order norm_type of the gradients of params, as clip_grad_norm_ computes it, without clipping.
Tensor grad_norm(const std::vector<Tensor>& params, double norm_type = 2.0);
// Clamps every gradient element to [-clip_value, clip_value]; clip_value must be non-negative.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace ds::optim
