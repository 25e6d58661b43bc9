#pragma once
// Views (share memory with their input) and shape ops (copy). Views: view, reshape (when possible), permute,
// transpose, t, narrow, slice, select, expand, squeeze, unsqueeze, flatten, as_strided. Copies: contiguous, cat,
// stack, split/chunk (views), flip, roll, repeat, pad.
#include <optional>
#include <string_view>
#include <vector>

#include <ds/ops/op_attrs.h>
#include <ds/ops/tensor.h>

namespace ds {

// Same memory, new shape (one dim may be -1); throws when the strides cannot express it (use reshape).
Tensor view(const Tensor& x, IntArrayRef shape);
// A view when the layout allows, else a contiguous copy.
Tensor reshape(const Tensor& x, IntArrayRef shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& x, IntArrayRef dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
// Transpose of a matrix (a 0-d or 1-d tensor is returned as it is).
Tensor t(const Tensor& x);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// x[start:end:step] along dim, with Python's clamping of start and end; step >= 1.
Tensor slice(const Tensor& x, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step = 1);
// x[..., index, ...]: removes dim.
Tensor select(const Tensor& x, int64_t dim, int64_t index);
// Broadcasts size-1 dims (and new leading dims) to `shape`; -1 keeps a size.
Tensor expand(const Tensor& x, IntArrayRef shape);
// Removes size-1 dims (all of them, or those listed).
Tensor squeeze(const Tensor& x, IntArrayRef dims = {});
Tensor unsqueeze(const Tensor& x, int64_t dim);
// A view with explicit sizes and strides (in elements) into x's storage; offset defaults to x's.
Tensor as_strided(const Tensor& x, IntArrayRef sizes, IntArrayRef strides, std::optional<int64_t> storage_offset = {});
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to(const Tensor& x, DType dtype);
// A copy on `device` (x itself when it is there already), differentiable: the gradient comes back to x's device.
// Non-contiguous tensors are made contiguous on their own device first.
Tensor to_device(const Tensor& x, Device device);

// Concatenates along dim; all tensors agree on the other dims (1-d empty tensors are skipped, as in PyTorch).
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Stacks along a new dim.
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Views of consecutive pieces of `split_size` along dim (the last may be smaller).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, std::vector<int64_t> sizes, int64_t dim);
// `chunks` pieces of ceil(n / chunks) (fewer when n is small), like torch.chunk.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
Tensor flip(const Tensor& x, IntArrayRef dims);
// Rotates by `shift` along dim (elements wrap around).
Tensor roll(const Tensor& x, int64_t shift, int64_t dim);
// Tiles x `repeats[i]` times along dim i (torch.Tensor.repeat); may add leading dims.
Tensor repeat(const Tensor& x, IntArrayRef repeats);
// pads = (left, right) of the last dim, then of the one before, ... (torch.nn.functional.pad order).
Tensor pad(const Tensor& x, IntArrayRef pads, PadMode mode = PadMode::Constant, double value = 0.0);

}  // namespace ds
