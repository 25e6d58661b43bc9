#pragma once
// The autograd graph: a Node per recorded op, with an Edge per input pointing at the node that produced it (or at
// the AccumulateGrad of a leaf). Nodes hold what their vjp needs as SavedTensors, which detect in-place changes.
#include <atomic>
#include <memory>
#include <vector>

#include <ds/ops/op_def.h>

namespace ds::autograd {

class Node;

// Where the gradient of one op input goes: slot `input_nr` of `node` (the output number of the tensor there).
struct Edge {
  std::shared_ptr<Node> node;
  uint32_t input_nr = 0;
  bool valid() const { return static_cast<bool>(node); }
};

// A tensor kept for backward. An output of the node itself is kept without its autograd identity (which would be
// a reference cycle) and rebuilt on unpacking.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);
  // The saved value; throws if it was modified in place since it was saved, or released after a backward.
  Tensor unpack(const std::shared_ptr<Node>& owner, std::string_view op, int which, bool is_output) const;
  void release() { data_.reset(); released_ = true; }
  bool defined() const { return static_cast<bool>(data_) || released_; }

 private:
  IntrusivePtr<TensorImpl> data_;
  uint32_t version_ = 0;
  uint32_t output_nr_ = 0;
  bool is_output_ = false;
  bool released_ = false;
};

class Node : public GradNode, public std::enable_shared_from_this<Node> {
 public:
  explicit Node(uint32_t num_outputs);
  // Gradients of this node's inputs from gradients of its outputs (one per output, undefined where none arrived).
  virtual TensorList apply(TensorList grads) = 0;
  // Frees saved tensors after a backward without retain_graph.
  virtual void release_saved() {}
  RemovableHandle add_output_hook(uint32_t output_nr, TensorHook hook) override;
  // Gradient sinks (a leaf's AccumulateGrad) run as soon as they are ready, so the leaf's post-accumulate hooks
  // fire while the rest of backward goes on (data parallelism starts reducing a bucket then).
  virtual bool is_sink() const { return false; }

  uint64_t sequence_nr() const { return seq_; }
  uint32_t num_outputs() const { return num_outputs_; }
  std::vector<Edge>& next_edges() { return next_; }
  // Hooks on output i (created on first use; null when there are none).
  std::vector<std::shared_ptr<TensorHookList>>& output_hooks() { return hooks_; }

 protected:
  uint64_t seq_;
  uint32_t num_outputs_;
  std::vector<Edge> next_;
  std::vector<std::shared_ptr<TensorHookList>> hooks_;
};

// The node of a recorded primitive: calls the row's vjp.
class OpNode final : public Node {
 public:
  OpNode(const OpDef& def, OpId op, std::span<const Tensor> inputs, const Attrs& attrs, std::span<Tensor> outputs);
  std::string_view name() const override { return def_.name; }
  TensorList apply(TensorList grads) override;
  void release_saved() override;
  // Saves the outputs the vjp reads; called once the outputs point at this node.
  void save_outputs(std::span<Tensor> outputs);

 private:
  const OpDef& def_;
  OpId op_;
  Attrs attrs_;
  std::vector<SavedTensor> saved_in_, saved_out_;
  std::vector<Shape> in_sizes_;
  std::vector<DType> in_dtypes_;
  std::vector<OutMeta> out_meta_;
  bool released_ = false;
};

// The sink for a leaf that requires grad: runs the leaf's hooks, adds the gradient to leaf.grad(), then runs the
// leaf's post-accumulate-grad hooks.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(IntrusivePtr<TensorImpl> leaf);
  std::string_view name() const override { return "AccumulateGrad"; }
  bool is_sink() const override { return true; }
  TensorList apply(TensorList grads) override;
  TensorImpl* leaf() const { return leaf_.get(); }

 private:
  IntrusivePtr<TensorImpl> leaf_;
};

// The edge a gradient for tensor t flows into (invalid when t does not require grad).
Edge gradient_edge(const Tensor& t);

// Sums g down to `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace ds::autograd
