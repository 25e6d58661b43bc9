#pragma once
// Gradient clipping (torch.nn.utils.clip_grad_norm_ and clip_grad_value_). Both act on the .grad() of the given
// tensors, in place and outside autograd; tensors without a gradient are skipped.
#include <cmath>
#include <vector>

#include <ds/ops/tensor.h>

namespace ds::optim {

// Scales all gradients together so that their joint norm of order norm_type (INFINITY for the max-norm) is at most
// max_norm: each is multiplied by max_norm / (total + 1e-6) when that is below 1 (or NaN). Returns the total norm
// before clipping (0 when no tensor has a gradient), computed in double. A non-finite total (an inf or NaN gradient)
// is returned as it is, and the gradients are then scaled as PyTorch does (they become NaN where not 0 after the
// scaling); with error_if_nonfinite it is an error instead, and no gradient is touched.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
// Clamps every gradient element to [-clip_value, clip_value]; clip_value must be non-negative.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace ds::optim
