#pragma once
// ds::Tensor: what users hold. A handle (intrusively reference counted) to a strided view of device memory, with the
// PyTorch-style methods. Every method that computes goes through the op layer's one choke point (ops/dispatch.h).
#include <functional>
#include <initializer_list>
#include <optional>
#include <vector>

#include <ds/core/grad_mode.h>
#include <ds/core/tensor_base.h>
#include <ds/ops/scalar.h>

namespace ds {

class Tensor;
using TensorList = SmallVec<Tensor, 4>;

// dtype, device and requires_grad of a tensor to create: ds::zeros({2, 3}, {.dtype = kF64, .requires_grad = true}).
struct TensorOptions {
  DType dtype = kF32;
  Device device = kCPU;
  bool requires_grad = false;
};

class Tensor : public TensorBase {
 public:
  Tensor() = default;
  Tensor(TensorBase b) noexcept : TensorBase(std::move(b)) {}  // NOLINT
  explicit Tensor(IntrusivePtr<TensorImpl> impl) noexcept : TensorBase(std::move(impl)) {}

  // ---- autograd
  // Marks a leaf as requiring grad (only floating tensors can); returns *this.
  Tensor& requires_grad_(bool requires_grad = true);
  // The accumulated gradient (undefined until a backward reaches this tensor).
  Tensor grad() const;
  void set_grad(const Tensor& g);
  // Computes the gradient of this tensor (a scalar, or with an explicit gradient of its shape) with respect to
  // every leaf that requires grad, accumulating into their .grad(). See autograd/engine.h.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false, bool create_graph = false) const;
  // A tensor sharing this one's memory but cut from the graph.
  Tensor detach() const;
  Tensor& detach_();
  // Calls fn with this tensor's gradient during backward; fn may return a replacement (or an undefined tensor).
  // On a leaf the hook runs before the gradient is added to .grad(). handle.remove() takes the hook off.
  RemovableHandle register_hook(std::function<Tensor(const Tensor&)> fn) const;
  // On a leaf that requires grad: calls fn(leaf) each time a backward has added this leaf's gradient into .grad()
  // (right when it happens, while the rest of backward goes on). A data-parallel wrapper starts reducing a
  // parameter's gradient from here. handle.remove() takes the hook off.
  RemovableHandle register_post_accumulate_grad_hook(std::function<void(const Tensor& leaf)> fn) const;
  // Keeps .grad() of a non-leaf tensor after backward.
  void retain_grad() const;
  // Name of the op that produced this tensor ("mul"), or "" for a leaf.
  std::string grad_fn_name() const;

  // ---- conversions and copies
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor clone() const;
  Tensor contiguous() const;
  Tensor float_() const { return to(kF32); }
  Tensor double_() const { return to(kF64); }
  Tensor long_() const { return to(kI64); }
  // In place: copies src (broadcast and cast) into this tensor.
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(Scalar value);
  Tensor& zero_();
  // Element access for small tensors and tests: the values in row-major order.
  template <typename T> std::vector<T> tolist() const;

  // ---- views
  Tensor view(IntArrayRef shape) const;
  Tensor reshape(IntArrayRef shape) const;
  Tensor permute(IntArrayRef dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;
  Tensor mT() const { return transpose(-2, -1); }
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor expand(IntArrayRef shape) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor repeat(IntArrayRef repeats) const;
  Tensor as_strided(IntArrayRef size, IntArrayRef stride, std::optional<int64_t> storage_offset = {}) const;

  // ---- math (see the free functions for contracts)
  Tensor neg() const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor square() const;
  Tensor pow(Scalar exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor clamp(std::optional<Scalar> min, std::optional<Scalar> max) const;
  Tensor sum() const;
  Tensor sum(IntArrayRef dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(IntArrayRef dims, bool keepdim = false) const;
  Tensor prod(int64_t dim, bool keepdim = false) const;
  Tensor amax(IntArrayRef dims = {}, bool keepdim = false) const;
  Tensor amin(IntArrayRef dims = {}, bool keepdim = false) const;
  Tensor var(IntArrayRef dims = {}, double correction = 1, bool keepdim = false) const;
  Tensor std(IntArrayRef dims = {}, double correction = 1, bool keepdim = false) const;
  Tensor norm(double p = 2, IntArrayRef dims = {}, bool keepdim = false) const;
  Tensor cumsum(int64_t dim) const;
  Tensor max() const;
  Tensor min() const;
  Tensor argmax(std::optional<int64_t> dim = {}, bool keepdim = false) const;
  Tensor argmin(std::optional<int64_t> dim = {}, bool keepdim = false) const;
  Tensor matmul(const Tensor& other) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;
  Tensor masked_fill(const Tensor& mask, Scalar value) const;
  Tensor index_select(int64_t dim, const Tensor& index) const;
  Tensor gather(int64_t dim, const Tensor& index) const;

  // ---- in place (version counter bumped; see ops/inplace.h for the autograd rules)
  Tensor& add_(const Tensor& other);
  Tensor& add_(Scalar other);
  Tensor& sub_(const Tensor& other);
  Tensor& sub_(Scalar other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(Scalar other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(Scalar other);
  Tensor& clamp_(std::optional<Scalar> min, std::optional<Scalar> max);
  Tensor& masked_fill_(const Tensor& mask, Scalar value);
};

}  // namespace ds
