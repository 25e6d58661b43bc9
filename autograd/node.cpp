#include "node.h"

#include <ds/core/detail/check.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

namespace ds::autograd {
namespace {
std::atomic<uint64_t> g_next_seq{0};

IntrusivePtr<TensorImpl> alias_impl(const Tensor& t) {
  return IntrusivePtr<TensorImpl>::make(t.impl()->storage(), t.dtype(), t.sizes(), t.strides(), t.storage_offset());
}
}  // namespace

SavedTensor::SavedTensor(const Tensor& t, bool is_output)
    : data_(is_output ? alias_impl(t) : t.impl_ptr()), version_(t.version()), is_output_(is_output) {
  if (is_output && t.impl()->autograd()) output_nr_ = t.impl()->autograd()->output_nr;
}

Tensor SavedTensor::unpack(const std::shared_ptr<Node>& owner, std::string_view op, int which, bool is_output) const {
  DS_CHECK(!released_, op,
           "trying to run backward through the graph a second time: its saved tensors were freed after the first "
           "backward; pass retain_graph=true to the first backward to keep them");
  if (!data_) return Tensor();
  const uint32_t now = data_->storage()->version();
  DS_CHECK(now == version_, op,
           "a tensor saved for backward ({} {}, shape {}) was modified by an in-place operation: version {} was "
           "saved, it is now {}; use an out-of-place op, or clone() the tensor before modifying it",
           is_output ? "output" : "input", which, shape_str(data_->sizes()), version_, now);
  if (!is_output_ || !is_grad_enabled()) return Tensor(data_);
  // Rebuilt with its producer, so that a backward recorded with create_graph differentiates through it.
  auto impl = alias_impl(Tensor(data_));
  impl->set_requires_grad(true);
  AutogradMeta& m = impl->autograd_mut();
  m.grad_fn = owner;
  m.output_nr = output_nr_;
  return Tensor(std::move(impl));
}

Node::Node(uint32_t num_outputs) : seq_(g_next_seq.fetch_add(1)), num_outputs_(num_outputs), hooks_(num_outputs) {}

RemovableHandle Node::add_output_hook(uint32_t output_nr, TensorHook hook) {
  auto& list = hooks_.at(output_nr);
  if (!list) list = make_hook_list<TensorHook>();
  return list->add(std::move(hook));
}

OpNode::OpNode(const OpDef& def, OpId op, std::span<const Tensor> inputs, const Attrs& attrs,
               std::span<Tensor> outputs)
    : Node(static_cast<uint32_t>(outputs.size())), def_(def), op_(op), attrs_(attrs) {
  const size_t n = inputs.size();
  next_.resize(n);
  in_sizes_.resize(n);
  in_dtypes_.resize(n, kF32);
  saved_in_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) continue;
    in_sizes_[i] = t.sizes();
    in_dtypes_[i] = t.dtype();
    if (t.requires_grad()) next_[i] = gradient_edge(t);
    if (i < 32 && ((def.save_in >> i) & 1u)) saved_in_[i] = SavedTensor(t, false);
  }
  for (const Tensor& o : outputs) out_meta_.push_back({o.sizes(), o.dtype()});
}

void OpNode::save_outputs(std::span<Tensor> outputs) {
  saved_out_.resize(outputs.size());
  for (size_t j = 0; j < outputs.size() && j < 32; ++j)
    if ((def_.save_out >> j) & 1u) saved_out_[j] = SavedTensor(outputs[j], true);
}

TensorList OpNode::apply(TensorList grads) {
  DS_CHECK(!released_, def_.name,
           "trying to run backward through the graph a second time: its saved tensors were freed after the first "
           "backward; pass retain_graph=true to the first backward to keep them");
  const auto self = shared_from_this();
  TensorList in(saved_in_.size()), out(saved_out_.size());
  for (size_t i = 0; i < saved_in_.size(); ++i)
    if (saved_in_[i].defined()) in[i] = saved_in_[i].unpack(self, def_.name, static_cast<int>(i), false);
  for (size_t j = 0; j < saved_out_.size(); ++j)
    if (saved_out_[j].defined()) out[j] = saved_out_[j].unpack(self, def_.name, static_cast<int>(j), true);
  // Outputs no gradient reached count as zero, so a vjp always sees a gradient for each floating output.
  Device device = kCPU;
  for (const Tensor& g : grads)
    if (g.defined()) device = g.device();
  for (size_t j = 0; j < grads.size(); ++j)
    if (!grads[j].defined() && is_floating(out_meta_[j].dtype))
      grads[j] = zeros(out_meta_[j].sizes, {.dtype = out_meta_[j].dtype, .device = device});
  uint32_t needs = 0;
  for (size_t i = 0; i < next_.size() && i < 32; ++i)
    if (next_[i].valid()) needs |= 1u << i;
  const VjpCtx ctx{attrs_, in, out, grads, in_sizes_, in_dtypes_, needs};
  // A recorded backward (create_graph: grad mode on here) takes the row's formula in ds ops when it has one.
  const VjpFn vjp = is_grad_enabled() && def_.vjp_graph ? def_.vjp_graph : def_.vjp;
  TensorList result = vjp(ctx);
  result.resize(next_.size());
  for (size_t i = 0; i < next_.size(); ++i) {
    Tensor& g = result[i];
    if (!next_[i].valid() || !g.defined()) {
      g = Tensor();
      continue;
    }
    if (g.sizes() != in_sizes_[i]) g = sum_to(g, in_sizes_[i]);
    if (g.dtype() != in_dtypes_[i]) g = g.to(in_dtypes_[i]);
  }
  return result;
}

void OpNode::release_saved() {
  for (auto& s : saved_in_)
    if (s.defined()) s.release();
  for (auto& s : saved_out_)
    if (s.defined()) s.release();
  released_ = true;
}

AccumulateGrad::AccumulateGrad(IntrusivePtr<TensorImpl> leaf) : Node(1), leaf_(std::move(leaf)) {}

TensorList AccumulateGrad::apply(TensorList grads) {
  Tensor g = std::move(grads[0]);
  if (!g.defined()) return {};
  AutogradMeta& m = leaf_->autograd_mut();
  if (m.hooks)
    m.hooks->for_each([&](const TensorHook& hook) {
      TensorBase r = hook(g);
      if (r.defined()) g = Tensor(std::move(r));
    });
  if (!m.grad) {
    // Stored as it is when nothing else holds it; a shared gradient (the caller's, or one fanned out to several
    // inputs) is copied so that later accumulation cannot write into someone else's tensor.
    // (A tracer's reference does not count: tracing must not change what the program does.)
    const bool traced = dispatch_state().tracing && dispatch_hooks().traced && dispatch_hooks().traced(g.impl());
    if (!is_grad_enabled() && g.impl()->use_count() > 1 + (traced ? 1 : 0)) g = g.clone();
    m.grad = g.impl_ptr();
  } else if (is_grad_enabled()) {
    m.grad = (Tensor(m.grad) + g).impl_ptr();
  } else {
    Tensor acc(m.grad);
    acc.add_(g);
  }
  if (dispatch_state().tracing && dispatch_hooks().trace_grad) [[unlikely]]
    dispatch_hooks().trace_grad(Tensor(leaf_), Tensor(m.grad));
  if (m.post_accumulate_hooks) {
    const TensorBase leaf(leaf_);
    m.post_accumulate_hooks->for_each([&](const PostAccumulateGradHook& hook) { hook(leaf); });
  }
  return {};
}

Edge gradient_edge(const Tensor& t) {
  TensorImpl* impl = t.impl();
  AutogradMeta* m = impl->autograd();
  if (m && m->grad_fn) return {std::static_pointer_cast<Node>(m->grad_fn), m->output_nr};
  if (!impl->requires_grad()) return {};
  AutogradMeta& mm = impl->autograd_mut();
  std::shared_ptr<GradNode> acc = mm.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    mm.grad_accumulator = acc;
  }
  return {std::static_pointer_cast<Node>(acc), 0};
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.sizes() == shape) return g;
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  Shape dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.sizes()[d] != 1)) dims.push_back(d);
  Tensor r = dims.empty() ? g : sum(g, dims, true);
  return r.reshape(shape);
}

}  // namespace ds::autograd
