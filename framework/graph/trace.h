#pragma once
// Capture by trace-and-run. While a Tracer lives on a thread, every primitive that thread runs still runs, and is
// also recorded into a Graph (ir.h): the forward pass, the autograd engine's backward (its vjps are ds ops), the
// optimizer's update, in-place writes and views. What the program computed on the host is baked in: a Python-free
// C++ program has no bytecode to read, so control flow, host scalars and values read with item() are those of the
// traced run (ds::compile's guards decide when a trace still applies).
//
// A tensor the trace has not seen made or received as an argument is *captured* (parameters, optimizer state,
// buffers): the graph holds it and reads it live on every run. Every tensor the trace saw is kept alive until the
// trace ends, so no address is reused while tensors are matched by identity. A tensor object the trace has not seen
// whose storage it has (autograd's saved outputs, detach()) is that value again, or a view of it (an as_strided node).
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <ds/graph/ir.h>

#include "graph_break.h"

namespace ds::graph {

class Tracer {
 public:
  // Starts recording this thread's ops; `inputs` become the graph's arguments (bound anew on each run).
  explicit Tracer(std::span<const Tensor> inputs);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Stops recording and returns the graph, whose outputs are `outputs` (tensors the trace made, arguments or
  // captured tensors). An undefined output is an error.
  Graph finish(std::span<const Tensor> outputs);

  // The value a tensor holds now (capturing it if the trace has not seen it); kNoValue for an undefined tensor.
  ValueId value_of(const Tensor& t);

  // Called by the dispatcher's hooks (ops/dispatch.h) on the recording thread.
  void record(const OpDef& def, OpId op, std::span<const Tensor> inputs, const Attrs& attrs,
              std::span<const Tensor> outputs, const Tensor* target);
  void record_rng(const Tensor& state, Generator& generator, uint64_t counters);
  void record_grad(const Tensor& leaf, const Tensor& grad);
  void record_host_effect(const std::function<void()>& effect);
  // Host code read t's values (core's report_host_read): a graph break unless t's value follows from constants alone
  // (factories of baked host values, and ops on those), which every run reproduces, or the read is a `check` (a
  // range check the kernels repeat). Either way a graph break's rerun must get t computed (graph_break.h).
  void record_host_read(const Tensor& t, const char* what, bool check);

  // Whether the trace holds a reference to t (exactly one: tensors are kept alive until the trace ends).
  bool holds(const TensorImpl* t) const;
  // Whether t (or a tensor over its storage) is a value the trace received or made, not a captured one: what a
  // replay binds anew, so code traced apart from it (a ds::cond branch) must take it as an input.
  bool computed(const Tensor& t) const;

  // After finish(): how a rerun of the host code takes the results of the graph before the first host read of data
  // (graph_break.h); nullopt when there was none.
  std::optional<BreakPrefix> take_break_prefix() { return std::move(break_); }

  // The tracer recording on this thread, or null.
  static Tracer* current();

 private:
  void bind(const Tensor& t, ValueId v);
  // Whether v's value depends on an argument, a captured tensor or a random state (not on constants alone).
  bool depends_on_data(ValueId v);
  // At the first host read of data: which results the program can still reach (graph_break.h).
  void plan_break();

  // The primitive calls so far, until the first host read of data.
  struct Call {
    OpId op{};
    SmallVec<const TensorImpl*, 2> outs;  // null where the call makes no storage (a view, an in-place target)
    SmallVec<ValueId, 2> values;
    Attrs attrs;  // control flow's only
  };
  std::vector<Call> calls_;
  int32_t effects_ = 0;
  std::unordered_set<const Storage*> read_storages_;  // storage host code read (values of constants)
  std::optional<BreakPrefix> break_;

  Graph graph_;
  std::unordered_map<const TensorImpl*, ValueId> values_;
  std::unordered_map<const Storage*, std::vector<std::pair<ValueId, const TensorImpl*>>> by_storage_;
  std::vector<Tensor> keep_;
  std::vector<Tensor> rng_states_;  // the state each RNG draw gave, in order
  std::vector<bool> data_;  // depends_on_data of the values seen so far, by ValueId
  Tracer* prev_ = nullptr;
  bool prev_tracing_ = false;
  bool done_ = false;
};

}  // namespace ds::graph
