// Activation checkpointing: the forward that keeps nothing, and the node that recomputes and backpropagates.
#include "checkpoint.h"

#include <ds/core/detail/check.h>
#include <ds/core/rng.h>
#include <ds/ops/dispatch.h>

#include "engine.h"
#include "node.h"

namespace ds {
namespace {

thread_local bool tls_recomputing = false;

// Where the checkpoint node's extra edge points. The engine runs a node only when one of its edges leads somewhere
// (an interior node without edges is skipped), but a checkpoint must run even when no input requires grad: its
// function may capture parameters. This sink gives it an edge; it receives nothing and does nothing.
class CheckpointSink final : public autograd::Node {
 public:
  CheckpointSink() : Node(1) {}
  std::string_view name() const override { return "CheckpointSink"; }
  TensorList apply(TensorList) override { return {}; }
};

// Rewinds the default generator to the forward's state for the recomputation, then puts it back where it was so
// that random ops after backward are unaffected.
class RngRewind {
 public:
  explicit RngRewind(PhiloxState forward) : now_(default_generator().state()) {
    default_generator().set_state(forward);
  }
  ~RngRewind() { default_generator().set_state(now_); }

 private:
  PhiloxState now_;
};

class RecomputeFlag {
 public:
  RecomputeFlag() : prev_(tls_recomputing) { tls_recomputing = true; }
  ~RecomputeFlag() { tls_recomputing = prev_; }

 private:
  bool prev_;
};

// Inputs: next_[i] is input i's edge (invalid when it does not require grad); the last edge is the sink's.
class CheckpointNode final : public autograd::Node {
 public:
  CheckpointNode(CheckpointFn fn, const std::vector<Tensor>& inputs, PhiloxState rng, uint32_t num_outputs)
      : Node(num_outputs), fn_(std::move(fn)), rng_(rng) {
    const size_t n = inputs.size();
    next_.resize(n + 1);
    saved_.resize(n);
    needs_grad_.resize(n, false);
    for (size_t i = 0; i < n; ++i) {
      if (!inputs[i].defined()) continue;
      saved_[i] = autograd::SavedTensor(inputs[i], false);
      if (inputs[i].requires_grad()) {
        next_[i] = autograd::gradient_edge(inputs[i]);
        needs_grad_[i] = true;
      }
    }
    next_[n] = autograd::Edge{std::make_shared<CheckpointSink>(), 0};
  }
  std::string_view name() const override { return "checkpoint"; }

  TensorList apply(TensorList grads) override {
    DS_CHECK(!released_, "checkpoint",
             "trying to run backward through the graph a second time: the checkpoint's saved inputs were freed "
             "after the first backward; pass retain_graph=true to the first backward to keep them");
    // The recomputation's backward writes into .grad of the leaves fn captured, which grad() must never touch.
    DS_CHECK(!autograd::in_grad_call(), "checkpoint",
             "ds::grad() cannot differentiate through a checkpoint (its recomputation accumulates into the .grad of "
             "the parameters it captured); use backward()");
    const auto self = shared_from_this();
    // Fresh leaves over the same data: the recomputed graph ends at them, and their .grad is the input gradient.
    std::vector<Tensor> detached(saved_.size());
    for (size_t i = 0; i < saved_.size(); ++i) {
      if (!saved_[i].defined()) continue;
      detached[i] = alias_of(saved_[i].unpack(self, "checkpoint", static_cast<int>(i), false));
      if (needs_grad_[i]) detached[i].requires_grad_(true);
    }
    std::vector<Tensor> outs;
    {
      RngRewind rewind(rng_);
      RecomputeFlag flag;
      EnableGradGuard grad_on;
      outs = fn_(detached);
    }
    DS_CHECK(outs.size() == num_outputs(), "checkpoint",
             "the function returned {} outputs when recomputed but {} in the forward pass", outs.size(),
             num_outputs());
    std::vector<Tensor> roots, root_grads;
    for (size_t j = 0; j < outs.size(); ++j) {
      if (!grads[j].defined() || !outs[j].defined() || !outs[j].requires_grad()) continue;
      roots.push_back(outs[j]);
      root_grads.push_back(grads[j]);
    }
    // A nested backward: accumulates into the detached inputs and into every leaf fn captured.
    if (!roots.empty()) backward(roots, root_grads);
    TensorList in_grads(next_.size());
    for (size_t i = 0; i < detached.size(); ++i)
      if (needs_grad_[i]) in_grads[i] = detached[i].grad();
    return in_grads;
  }

  void release_saved() override {
    for (auto& s : saved_) s.release();
    released_ = true;
  }

 private:
  CheckpointFn fn_;
  PhiloxState rng_;
  std::vector<autograd::SavedTensor> saved_;
  std::vector<bool> needs_grad_;
  bool released_ = false;
};

}  // namespace

bool is_checkpoint_recomputing() { return tls_recomputing; }

std::vector<Tensor> checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs) {
  DS_CHECK(static_cast<bool>(fn), "checkpoint", "the function is empty");
  if (!is_grad_enabled()) return fn(inputs);
  const PhiloxState rng = default_generator().state();
  std::vector<Tensor> outs;
  {
    NoGradGuard no_grad;
    outs = fn(inputs);
  }
  auto node = std::make_shared<CheckpointNode>(fn, inputs, rng, static_cast<uint32_t>(outs.size()));
  for (size_t j = 0; j < outs.size(); ++j) {
    DS_CHECK(outs[j].defined(), "checkpoint", "output {} of the function is undefined", j);
    if (!is_floating(outs[j].dtype())) continue;
    // A fresh impl, so that an output which is an input (or shares its impl) keeps its own history untouched.
    outs[j] = alias_of(outs[j]);
    TensorImpl* impl = outs[j].impl();
    impl->set_requires_grad(true);
    AutogradMeta& m = impl->autograd_mut();
    m.grad_fn = node;
    m.output_nr = static_cast<uint32_t>(j);
  }
  return outs;
}

}  // namespace ds
