// Tensor's methods: each forwards to the front function of the same name (or, for autograd, to the engine's hook).
#include <ds/core/detail/check.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/linalg.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

namespace ds {

Tensor& Tensor::requires_grad_(bool requires_grad) {
  TensorImpl* t = checked();
  DS_CHECK(!requires_grad || is_floating(t->dtype()), "requires_grad_",
           "only floating tensors can require gradients, this one is {} (shape {})", dtype_name(t->dtype()),
           shape_str(t->sizes()));
  DS_CHECK(is_leaf(), "requires_grad_",
           "only leaf tensors can change requires_grad; use detach() to get a leaf from a tensor with grad_fn=<{}>",
           grad_fn_name());
  t->set_requires_grad(requires_grad);
  if (requires_grad) t->autograd_mut();
  return *this;
}

Tensor Tensor::grad() const {
  const AutogradMeta* m = checked()->autograd();
  if (!m) return Tensor();
  if (m->retained) return Tensor(m->retained->grad);
  return Tensor(m->grad);
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined())
    DS_CHECK(g.sizes() == sizes() && g.dtype() == dtype(), "set_grad",
             "gradient {} {} does not match the tensor {} {}", shape_str(g.sizes()), dtype_name(g.dtype()),
             shape_str(sizes()), dtype_name(dtype()));
  AutogradMeta& m = checked()->autograd_mut();
  if (m.retained) m.retained->grad = g.impl_ptr();
  else m.grad = g.impl_ptr();
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  auto fn = dispatch_hooks().backward;
  DS_CHECK(fn != nullptr, "backward", "the autograd engine is not linked");
  fn(*this, gradient, retain_graph, create_graph);
}

Tensor Tensor::detach() const { return alias_of(*this); }

Tensor& Tensor::detach_() {
  checked()->clear_autograd();
  return *this;
}

RemovableHandle Tensor::register_hook(std::function<Tensor(const Tensor&)> fn) const {
  TensorImpl* t = checked();
  DS_CHECK(t->requires_grad(), "register_hook", "cannot register a hook on a tensor that does not require grad");
  TensorHook hook = [fn = std::move(fn)](const TensorBase& g) -> TensorBase { return fn(Tensor(g)); };
  AutogradMeta& m = t->autograd_mut();
  if (m.grad_fn) return m.grad_fn->add_output_hook(m.output_nr, std::move(hook));
  if (!m.hooks) m.hooks = make_hook_list<TensorHook>();
  return m.hooks->add(std::move(hook));
}

RemovableHandle Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor& leaf)> fn) const {
  TensorImpl* t = checked();
  DS_CHECK(t->requires_grad(), "register_post_accumulate_grad_hook",
           "cannot register a hook on a tensor that does not require grad (shape {})", shape_str(t->sizes()));
  AutogradMeta& m = t->autograd_mut();
  DS_CHECK(!m.grad_fn, "register_post_accumulate_grad_hook",
           "only leaf tensors accumulate gradients; this tensor (shape {}) was produced by {}", shape_str(t->sizes()),
           m.grad_fn->name());
  if (!m.post_accumulate_hooks) m.post_accumulate_hooks = make_hook_list<PostAccumulateGradHook>();
  return m.post_accumulate_hooks->add([fn = std::move(fn)](const TensorBase& leaf) { fn(Tensor(leaf)); });
}

void Tensor::retain_grad() const {
  TensorImpl* t = checked();
  DS_CHECK(t->requires_grad(), "retain_grad", "cannot retain the gradient of a tensor that does not require grad");
  AutogradMeta& m = t->autograd_mut();
  if (!m.grad_fn || m.retained) return;  // leaves keep their gradient anyway
  m.retained = std::make_shared<GradSlot>();
  std::weak_ptr<GradSlot> slot = m.retained;
  m.grad_fn->add_output_hook(m.output_nr, [slot](const TensorBase& g) -> TensorBase {
    if (auto s = slot.lock()) {
      NoGradGuard no_grad;
      const Tensor gt(g);
      s->grad = s->grad ? (Tensor(s->grad) + gt).impl_ptr() : gt.detach().impl_ptr();
    }
    return TensorBase();
  });
}

std::string Tensor::grad_fn_name() const {
  const AutogradMeta* m = checked()->autograd();
  return m && m->grad_fn ? std::string(m->grad_fn->name()) : std::string();
}

Tensor Tensor::to(DType dtype) const { return ds::to(*this, dtype); }
Tensor Tensor::to(Device device) const { return ds::to_device(*this, device); }
Tensor Tensor::clone() const { return ds::clone(*this); }
Tensor Tensor::contiguous() const { return ds::contiguous(*this); }

Tensor& Tensor::copy_(const Tensor& src) {
  const Tensor s = src.sizes() == sizes() ? src : src.expand(sizes());
  call_op_inplace(OpId::copy, *this, {&s, 1}, CopyAttrs{dtype()}, "copy_");
  return *this;
}

Tensor& Tensor::fill_(Scalar value) {
  call_op_inplace(OpId::full, *this, {},
                  FullAttrs{.shape = Shape(sizes()), .value = value, .dtype = dtype(), .device = device()}, "fill_");
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

template <typename T>
std::vector<T> Tensor::tolist() const {
  DS_CHECK(!device().is_meta(), "tolist", "a meta tensor (shape {}) has no values to read", shape_str(sizes()));
  report_host_read(*this, "tolist()");
  const Tensor c = ds::contiguous(to(dtype_v<T>));
  if (c.impl() != impl()) {  // the copy read is made from this tensor's values: it must exist too
    HostReadIsCheck copy;
    report_host_read(c, "tolist()");
  }
  DS_CHECK(c.is_cpu(), "tolist", "expects a CPU tensor, got one on {}", device().str());
  const T* p = c.data_ptr<T>();
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::tolist<float>() const;
template std::vector<double> Tensor::tolist<double>() const;
template std::vector<int64_t> Tensor::tolist<int64_t>() const;
template std::vector<int32_t> Tensor::tolist<int32_t>() const;
template std::vector<uint8_t> Tensor::tolist<uint8_t>() const;

Tensor Tensor::view(IntArrayRef shape) const { return ds::view(*this, shape); }
Tensor Tensor::reshape(IntArrayRef shape) const { return ds::reshape(*this, shape); }
Tensor Tensor::permute(IntArrayRef dims) const { return ds::permute(*this, dims); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const { return ds::transpose(*this, d0, d1); }
Tensor Tensor::t() const { return ds::t(*this); }
Tensor Tensor::narrow(int64_t dim, int64_t start, int64_t length) const { return ds::narrow(*this, dim, start, length); }
Tensor Tensor::slice(int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) const {
  return ds::slice(*this, dim, start, end, step);
}
Tensor Tensor::select(int64_t dim, int64_t index) const { return ds::select(*this, dim, index); }
Tensor Tensor::expand(IntArrayRef shape) const { return ds::expand(*this, shape); }
Tensor Tensor::squeeze() const { return ds::squeeze(*this); }
Tensor Tensor::squeeze(int64_t dim) const { return ds::squeeze(*this, {dim}); }
Tensor Tensor::unsqueeze(int64_t dim) const { return ds::unsqueeze(*this, dim); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return ds::flatten(*this, s, e); }
Tensor Tensor::repeat(IntArrayRef r) const { return ds::repeat(*this, r); }
Tensor Tensor::as_strided(IntArrayRef size, IntArrayRef stride, std::optional<int64_t> off) const {
  return ds::as_strided(*this, size, stride, off);
}

Tensor Tensor::neg() const { return ds::neg(*this); }
Tensor Tensor::abs() const { return ds::abs(*this); }
Tensor Tensor::exp() const { return ds::exp(*this); }
Tensor Tensor::log() const { return ds::log(*this); }
Tensor Tensor::sqrt() const { return ds::sqrt(*this); }
Tensor Tensor::rsqrt() const { return ds::rsqrt(*this); }
Tensor Tensor::sin() const { return ds::sin(*this); }
Tensor Tensor::cos() const { return ds::cos(*this); }
Tensor Tensor::tanh() const { return ds::tanh(*this); }
Tensor Tensor::sigmoid() const { return ds::sigmoid(*this); }
Tensor Tensor::relu() const { return ds::relu(*this); }
Tensor Tensor::square() const { return ds::square(*this); }
Tensor Tensor::pow(Scalar e) const { return ds::pow(*this, e); }
Tensor Tensor::pow(const Tensor& e) const { return ds::pow(*this, e); }
Tensor Tensor::clamp(std::optional<Scalar> lo, std::optional<Scalar> hi) const { return ds::clamp(*this, lo, hi); }
Tensor Tensor::sum() const { return ds::sum(*this); }
Tensor Tensor::sum(IntArrayRef dims, bool keepdim) const { return ds::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return ds::mean(*this); }
Tensor Tensor::mean(IntArrayRef dims, bool keepdim) const { return ds::mean(*this, dims, keepdim); }
Tensor Tensor::prod(int64_t dim, bool keepdim) const { return ds::prod(*this, {dim}, keepdim); }
Tensor Tensor::amax(IntArrayRef d, bool k) const { return ds::amax(*this, d, k); }
Tensor Tensor::amin(IntArrayRef d, bool k) const { return ds::amin(*this, d, k); }
Tensor Tensor::var(IntArrayRef d, double c, bool k) const { return ds::var(*this, d, c, k); }
Tensor Tensor::std(IntArrayRef d, double c, bool k) const { return ds::std(*this, d, c, k); }
Tensor Tensor::norm(double p, IntArrayRef d, bool k) const { return ds::norm(*this, p, d, k); }
Tensor Tensor::cumsum(int64_t dim) const { return ds::cumsum(*this, dim); }
Tensor Tensor::max() const { return ds::max(*this); }
Tensor Tensor::min() const { return ds::min(*this); }
Tensor Tensor::argmax(std::optional<int64_t> dim, bool keepdim) const { return ds::argmax(*this, dim, keepdim); }
Tensor Tensor::argmin(std::optional<int64_t> dim, bool keepdim) const { return ds::argmin(*this, dim, keepdim); }
Tensor Tensor::matmul(const Tensor& o) const { return ds::matmul(*this, o); }
Tensor Tensor::softmax(int64_t dim) const { return ds::softmax(*this, dim); }
Tensor Tensor::log_softmax(int64_t dim) const { return ds::log_softmax(*this, dim); }
Tensor Tensor::masked_fill(const Tensor& mask, Scalar v) const { return ds::masked_fill(*this, mask, v); }
Tensor Tensor::index_select(int64_t dim, const Tensor& index) const { return ds::index_select(*this, dim, index); }
Tensor Tensor::gather(int64_t dim, const Tensor& index) const { return ds::gather(*this, dim, index); }

namespace {
Tensor& inplace(Tensor& self, OpId op, const Tensor& other, std::string_view name) {
  const Tensor ins[2] = {self, other};
  call_op_inplace(op, self, ins, {}, name);
  return self;
}
}  // namespace

Tensor& Tensor::add_(const Tensor& o) { return inplace(*this, OpId::add, o, "add_"); }
Tensor& Tensor::add_(Scalar o) { return inplace(*this, OpId::add, wrap_scalar(o, device()), "add_"); }
Tensor& Tensor::sub_(const Tensor& o) { return inplace(*this, OpId::sub, o, "sub_"); }
Tensor& Tensor::sub_(Scalar o) { return inplace(*this, OpId::sub, wrap_scalar(o, device()), "sub_"); }
Tensor& Tensor::mul_(const Tensor& o) { return inplace(*this, OpId::mul, o, "mul_"); }
Tensor& Tensor::mul_(Scalar o) { return inplace(*this, OpId::mul, wrap_scalar(o, device()), "mul_"); }
Tensor& Tensor::div_(const Tensor& o) { return inplace(*this, OpId::div, o, "div_"); }
Tensor& Tensor::div_(Scalar o) { return inplace(*this, OpId::div, wrap_scalar(o, device()), "div_"); }
Tensor& Tensor::clamp_(std::optional<Scalar> lo, std::optional<Scalar> hi) {
  ClampAttrs attrs;
  if (lo) attrs.min = lo->to_double();
  if (hi) attrs.max = hi->to_double();
  call_op_inplace(OpId::clamp, *this, {this, 1}, attrs, "clamp_");
  return *this;
}
Tensor& Tensor::masked_fill_(const Tensor& mask, Scalar value) {
  DS_CHECK(mask.dtype() == kBool, "masked_fill_", "the mask must be a bool tensor, got {}", dtype_name(mask.dtype()));
  const Tensor v = full({}, value, {.dtype = dtype(), .device = device()});
  const Tensor ins[3] = {mask, v, *this};
  call_op_inplace(OpId::where, *this, ins, {}, "masked_fill_");
  return *this;
}

}  // namespace ds
