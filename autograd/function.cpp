// Custom autograd functions: the node that calls a user's backward, and the recording that connects the outputs.
#include "function.h"

#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>

#include "node.h"

namespace ds::autograd {

// inputs -> next_ edges (one per flattened forward argument, invalid where no gradient is needed); the saved
// tensors become SavedTensors once the outputs point at this node.
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, FunctionBackward backward, std::shared_ptr<FunctionCtx> ctx,
               const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs)
      : Node(static_cast<uint32_t>(outputs.size())), name_(std::move(name)), backward_(backward), ctx_(std::move(ctx)) {
    next_.resize(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = inputs[i];
      if (!t.defined()) continue;
      in_meta_.push_back({i, t.sizes(), t.dtype()});
      if (t.requires_grad()) next_[i] = gradient_edge(t);
    }
    for (const Tensor& o : outputs) out_meta_.push_back({o.sizes(), o.dtype(), o.device()});
    ctx_->node_ = this;
  }
  std::string_view name() const override { return name_; }

  void save(const std::vector<Tensor>& outputs) {
    for (const Tensor& t : ctx_->to_save_) {
      bool is_output = false;
      for (const Tensor& o : outputs) is_output |= t.defined() && o.defined() && t.is_same(o);
      saved_.push_back(t.defined() ? SavedTensor(t, is_output) : SavedTensor());
      saved_is_output_.push_back(is_output);
    }
    ctx_->to_save_.clear();
  }

  std::vector<Tensor> unpack_saved() {
    DS_CHECK(!released_, name_,
             "trying to run backward through the graph a second time: its saved tensors were freed after the first "
             "backward; pass retain_graph=true to the first backward to keep them");
    const auto self = shared_from_this();
    std::vector<Tensor> out;
    for (size_t i = 0; i < saved_.size(); ++i)
      out.push_back(saved_[i].defined()
                        ? saved_[i].unpack(self, name_, static_cast<int>(i), saved_is_output_[i])
                        : Tensor());
    return out;
  }

  TensorList apply(TensorList grads) override {
    std::vector<Tensor> g(grads.begin(), grads.end());
    for (size_t j = 0; j < g.size(); ++j)
      if (!g[j].defined() && is_floating(out_meta_[j].dtype))
        g[j] = zeros(out_meta_[j].sizes, {.dtype = out_meta_[j].dtype, .device = out_meta_[j].device});
    std::vector<Tensor> result = backward_(*ctx_, g);
    DS_CHECK(result.size() == next_.size(), name_,
             "backward returned {} gradients, but forward took {} arguments (one entry per argument: a gradient "
             "or an undefined Tensor)", result.size(), next_.size());
    TensorList out(next_.size());
    for (const InMeta& m : in_meta_) {
      Tensor& r = result[m.index];
      if (!next_[m.index].valid() || !r.defined()) continue;
      DS_CHECK(r.sizes() == m.sizes, name_, "backward returned a gradient of shape {} for argument {} of shape {}",
               shape_str(r.sizes()), m.index, shape_str(m.sizes));
      out[m.index] = r.dtype() == m.dtype ? r : r.to(m.dtype);
    }
    for (size_t i = 0; i < result.size(); ++i)
      DS_CHECK(!result[i].defined() || is_input_index(i), name_,
               "backward returned a gradient for argument {}, which is not a tensor", i);
    return out;
  }

  void release_saved() override {
    for (auto& s : saved_)
      if (s.defined()) s.release();
    released_ = true;
  }

 private:
  struct InMeta {
    size_t index;
    Shape sizes;
    DType dtype;
  };
  struct OutMeta {
    Shape sizes;
    DType dtype;
    Device device;
  };
  bool is_input_index(size_t i) const {
    for (const InMeta& m : in_meta_)
      if (m.index == i) return true;
    return false;
  }

  std::string name_;
  FunctionBackward backward_;
  std::shared_ptr<FunctionCtx> ctx_;
  std::vector<InMeta> in_meta_;
  std::vector<OutMeta> out_meta_;
  std::vector<SavedTensor> saved_;
  std::vector<bool> saved_is_output_;
  bool released_ = false;
};

void FunctionCtx::save_for_backward(std::vector<Tensor> tensors) {
  DS_CHECK(node_ == nullptr, "save_for_backward", "tensors can be saved only inside forward");
  to_save_ = std::move(tensors);
}

std::vector<Tensor> FunctionCtx::saved() const {
  DS_CHECK(node_ != nullptr, "saved", "saved tensors are available in backward only");
  return node_->unpack_saved();
}

void FunctionCtx::mark_non_differentiable(const std::vector<Tensor>& outputs) {
  non_differentiable_.insert(non_differentiable_.end(), outputs.begin(), outputs.end());
}

std::vector<bool> FunctionApply::needs_grad(const std::vector<Tensor>& inputs) {
  std::vector<bool> needs(inputs.size(), false);
  if (!is_grad_enabled()) return needs;
  for (size_t i = 0; i < inputs.size(); ++i) needs[i] = inputs[i].defined() && inputs[i].requires_grad();
  return needs;
}

void FunctionApply::record(std::string name, FunctionBackward backward, std::shared_ptr<FunctionCtx> ctx,
                           const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
  for (size_t j = 0; j < outputs.size(); ++j)
    DS_CHECK(outputs[j].defined(), name, "forward returned an undefined tensor as output {}", j);
  bool any = false;
  for (bool b : ctx->needs_input_grad_) any |= b;
  if (!any) return;
  // An output that is an input returned as it is gets its own identity (an alias), so the input's history stays.
  for (Tensor& o : outputs)
    for (const Tensor& in : inputs)
      if (in.defined() && o.is_same(in)) o = o.detach();
  auto node = std::make_shared<FunctionNode>(name, backward, ctx, inputs, outputs);
  for (size_t j = 0; j < outputs.size(); ++j) {
    Tensor& o = outputs[j];
    bool differentiable = is_floating(o.dtype());
    for (const Tensor& nd : ctx->non_differentiable_) differentiable &= !nd.is_same(o);
    if (!differentiable) continue;
    // forward ran with grad mode off, so an output has no history unless it is a view of something that has one.
    if (o.impl()->autograd() && o.impl()->autograd()->grad_fn) o = o.detach();
    TensorImpl* impl = o.impl();
    impl->set_requires_grad(true);
    AutogradMeta& m = impl->autograd_mut();
    m.grad_fn = node;
    m.output_nr = static_cast<uint32_t>(j);
  }
  ctx->non_differentiable_.clear();
  node->save(outputs);
}

}  // namespace ds::autograd
