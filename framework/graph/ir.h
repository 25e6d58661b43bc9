#pragma once
// The static graph's IR. A Graph is a list of nodes in execution order; each node is one primitive of the op table
// (its OpId and its typed attributes, ops/op_attrs.h) reading and producing SSA values. A value has the shape,
// strides, dtype and device the op's rule gave it and an alias set: values that share storage (a view and its base,
// the versions of a tensor written in place) share one. Values come from three places:
//   - inputs: the tensors a compiled function is called with, bound anew on every call;
//   - captured tensors: tensors the function reads without taking them as arguments (parameters, optimizer state,
//     buffers), bound by identity, read live, and written in place where the program wrote them;
//   - RNG states: the Philox state a random op draws (ops/rng_input.h), drawn anew from its generator on every run;
//   - node outputs.
// A node that wrote its output into an existing tensor (add_, copy_, the optimizer's update) names that tensor's
// previous value as `target`; its output 0 is the new version, in the same alias set. Inputs the kernel updates
// besides (adam_step's moments: the row's `mutates` mask) get new versions as the node's extra outputs. The gradients
// the autograd engine leaves in parameters' .grad and the host code the ops depend on (an optimizer's step counts and
// learning rates, zero_grad's release of the old gradients) are actions, redone at their place in the order.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ds/core/rng.h>
#include <ds/ops/op_def.h>

namespace ds::graph {

using ValueId = int32_t;
inline constexpr ValueId kNoValue = -1;

enum class ValueKind : uint8_t { Input, Captured, Rng, Result };

// A Philox state drawn from `generator` for `counters` counters.
struct RngDraw {
  Generator* generator = nullptr;
  uint64_t counters = 0;
  std::weak_ptr<const int> alive;  // the generator's lifetime(): a run refuses to draw from a destroyed one
};

struct Value {
  ValueKind kind = ValueKind::Result;
  Shape sizes, strides;
  int64_t offset = 0;  // storage offset, in elements
  DType dtype = kF32;
  Device device = kCPU;
  int32_t node = -1;    // Result: the node that produced it
  int32_t index = 0;    // Result: output number; Input: argument number; Captured, Rng: index into captured(), rng()
  int32_t alias = -1;   // alias set (values sharing storage); every value has one
};

// Something a run does besides its nodes, at its place in the order: host code (run_host_effect, ops/dispatch.h) or
// setting a captured leaf's .grad to a value, as the autograd engine did.
struct Action {
  std::function<void()> host;  // set: host code
  ValueId leaf = kNoValue;     // otherwise: leaf.grad = grad
  ValueId grad = kNoValue;
};

// Host code read a value that depends on the data (item(), tolist(), printing) before node `node` was recorded. What
// it did with the number is not in the graph, so a graph with a host read cannot stand for the call.
struct HostRead {
  int32_t node = 0;
  int32_t action = 0;  // actions recorded before it
  ValueId value = kNoValue;
  std::string what;  // "item()", "tolist()", "printing"
};

struct Node {
  OpId op{};
  Attrs attrs;
  SmallVec<ValueId, 4> inputs;   // kNoValue for an absent optional input
  SmallVec<ValueId, 2> outputs;  // the op's outputs, then the new versions of the inputs it mutates
  ValueId target = kNoValue;     // in place: the value output 0 overwrote (its storage is output 0's)
  std::vector<int32_t> actions;  // Graph::actions() done just before this node
};

class Graph {
 public:
  // Declares argument `index` with t's metadata.
  ValueId add_input(const Tensor& t);
  // Declares a captured tensor (held by the graph, bound by identity).
  ValueId add_captured(const Tensor& t);
  // Declares a Philox state drawn from g (held as a tensor of the trace, which is not reused).
  ValueId add_rng(const Tensor& state, Generator& g, uint64_t counters);
  // Turns the RNG draws whose generator no longer exists (one the traced function made and dropped: it drew the
  // same numbers on every call) into captured constants holding the state drawn then; states[i] is draw i's.
  void freeze_dead_rng(std::span<const Tensor> states);
  // Appends a node; `outs` gives each output's metadata, `alias_of[k]` the value whose storage output k shares
  // (kNoValue: fresh storage). Returns the new values.
  std::span<const ValueId> add_node(OpId op, Attrs attrs, std::span<const ValueId> inputs,
                                    std::span<const Tensor> outs, std::span<const ValueId> alias_of,
                                    ValueId target = kNoValue);
  void set_outputs(std::vector<ValueId> outputs) { outputs_ = std::move(outputs); }
  // The autograd engine set the .grad of `leaf` (a captured tensor) to `grad` here: a run does it again.
  void set_grad(ValueId leaf, ValueId grad);
  // Every (leaf, gradient) the actions set, in order.
  std::vector<std::pair<ValueId, ValueId>> grads() const;
  // Host code recorded by run_host_effect (ops/dispatch.h): it runs before the next node added (or at the end).
  void add_effect(std::function<void()> effect);
  // A host read of v (HostRead) happened here, before the next node.
  void add_host_read(ValueId v, std::string what);
  const std::vector<HostRead>& host_reads() const { return host_reads_; }
  // The part of the trace before the first host read (graph/graph_break.h): its nodes and the actions recorded
  // before the read (host code, gradients set on leaves), without outputs or host reads.
  Graph before_host_read() const;
  // "item() reads the output of sum (node 11) after 12 of the graph's 40 nodes" for the first host read; "" if none.
  std::string host_read_str() const;
  const std::vector<Action>& actions() const { return actions_; }
  // For passes and the graph-break rerun, which wraps host actions (graph_break.h).
  std::vector<Action>& mutable_actions() { return actions_; }
  const std::vector<int32_t>& trailing_actions() const { return trailing_actions_; }
  // For passes: removes the nodes `drop` marks (their actions move to the next node kept) and renumbers.
  void erase_nodes(const std::vector<bool>& drop);
  // For passes: after nodes were removed or reordered through mutable_nodes(), points each result at its node again.
  void renumber();
  // For passes: inserts before node `before` a copy of node `of` (same op and attributes, no actions; not an in-place
  // node) reading `inputs`. Its outputs are new values with the metadata of `of`'s, a view's in the alias set of its
  // input, others in new sets. Nodes from `before` on move up by one. Returns the new outputs.
  std::span<const ValueId> insert_node_copy(size_t before, size_t of, std::span<const ValueId> inputs);
  // Makes every reader of `from` (node inputs, targets, graph outputs, gradients) read `to` instead; views of `from`
  // and writes into it join to's alias set.
  void replace_all_uses(ValueId from, ValueId to);

  const Value& value(ValueId v) const { return values_[static_cast<size_t>(v)]; }
  // For passes that rewrite metadata (graph/dynamic.h sets a value's sizes, a draw's counters, a captured scalar at
  // another size).
  Value& mutable_value(ValueId v) { return values_[static_cast<size_t>(v)]; }
  std::vector<RngDraw>& mutable_rng() { return rng_; }
  std::vector<Tensor>& mutable_captured() { return captured_; }
  size_t num_values() const { return values_.size(); }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& mutable_nodes() { return nodes_; }
  const std::vector<ValueId>& inputs() const { return inputs_; }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  const std::vector<Tensor>& captured() const { return captured_; }
  const std::vector<ValueId>& captured_values() const { return captured_values_; }
  const std::vector<RngDraw>& rng() const { return rng_; }
  const std::vector<ValueId>& rng_values() const { return rng_values_; }

  // Throws a ds::Error ("[graph] ...") naming the first broken invariant: a value used before it is defined or
  // defined twice, an output that is no value, a node whose input count or attributes do not fit its row, a view or
  // an in-place write outside the alias set of the value whose storage it shares.
  void verify() const;

  // Text, one node per line:  %5: f32[128, 10] = add(%3, %4)   and   %7 = sum(%6) {dims=[1], keepdim=false}
  std::string str() const;
  // Graphviz dot: values as edges labelled with their type, nodes as boxes.
  std::string dot() const;

 private:
  friend struct GraphIo;  // serialize.cpp
  ValueId new_value(Value v);
  std::string action_str(int32_t a) const;

  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_, outputs_;
  std::vector<Action> actions_;
  std::vector<int32_t> trailing_actions_;  // recorded after the last node so far
  std::vector<HostRead> host_reads_;
  std::vector<Tensor> captured_;
  std::vector<ValueId> captured_values_;
  std::vector<RngDraw> rng_;
  std::vector<ValueId> rng_values_;
  int32_t alias_sets_ = 0;
};

// "f32[128, 10]" (dtype and shape; strides only when not contiguous: "f32[3, 4](1, 3)"; " cuda:0" off the CPU).
std::string type_str(const Value& v);
// Bytes of v's elements (numel times the dtype's size).
int64_t bytes_of(const Value& v);
// Per alias set (index: Value::alias): the last node reading one of its values, as an input or an in-place target;
// INT32_MAX for the sets the program holds beyond the call (arguments, captured tensors, RNG states, graph outputs,
// gradients set on leaves); -1 for a set nothing reads. What the memory plan and rematerialisation start from.
std::vector<int32_t> last_reads_by_alias_set(const Graph& g);
// Whether v's strides are the row-major ones of its sizes (size-1 dimensions may have any stride); its storage
// offset is not looked at.
bool is_contiguous(const Value& v);

}  // namespace ds::graph
