#pragma once
// Reductions over any set of dims (all dims when the list is empty), with keepdim, and scans. Integer and bool
// inputs sum into int64, like PyTorch; 16-bit floats accumulate in float32.
#include <optional>

#include <ds/ops/indexing.h>
#include <ds/ops/tensor.h>

namespace ds {

Tensor sum(const Tensor& x, IntArrayRef dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, IntArrayRef dims = {}, bool keepdim = false);
Tensor prod(const Tensor& x, IntArrayRef dims = {}, bool keepdim = false);
// Largest / smallest value over dims (NaN propagates); the gradient is shared evenly among ties.
Tensor amax(const Tensor& x, IntArrayRef dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, IntArrayRef dims = {}, bool keepdim = false);
// Largest / smallest value of the whole tensor.
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
// Values and (first) indices of the largest / smallest along one dim.
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
// Index of the largest / smallest (of the flattened tensor when dim is absent).
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = {}, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = {}, bool keepdim = false);
// Variance and standard deviation with Bessel's correction (correction = 1) by default.
Tensor var(const Tensor& x, IntArrayRef dims = {}, double correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, IntArrayRef dims = {}, double correction = 1, bool keepdim = false);
// log(sum(exp(x))) over dims, computed stably.
Tensor logsumexp(const Tensor& x, IntArrayRef dims, bool keepdim = false);
// p-norm over dims (p = 2 by default; INFINITY gives the max-norm).
Tensor norm(const Tensor& x, double p = 2, IntArrayRef dims = {}, bool keepdim = false);
Tensor cumsum(const Tensor& x, int64_t dim);

}  // namespace ds
