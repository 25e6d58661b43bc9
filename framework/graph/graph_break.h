#pragma once
// A graph break that still runs compiled up to the break. C++ cannot resume a function in its middle, so a call
// whose trace read data on the host (item(), tolist(), printing) reruns its host code eagerly, every time. What
// runs compiled is the part of the trace before the first such read (Graph::before_host_read): the graph runs
// first, with its passes, fusion and memory plan; then the host code reruns, and each primitive call it makes up
// to the read is checked against the trace and handed the results the graph made instead of running its kernel
// (DispatchHooks::substitute); host effects the graph ran are skipped. From the read on, everything runs eagerly.
// The graph sets the leaves' .grad where the trace did, in the trace's order with the host effects (zero_grad);
// the rerun starts from the gradients of before the graph ran, and each effect it skips leaves them as that effect
// did in the graph, so the rerun's autograd sees the .grad the trace's saw, takes the traced path and sets the
// graph's gradients itself (ds::compile, replay_prefix).
//
// Which results the host code gets for real is decided when tracing, at the read: every result whose storage the
// program could still reach there (a tensor it holds, a tensor autograd saved, the base of a view it holds, a
// value host code read before, checks included) is an output of the graph. A result the program had dropped by then
// is an uncomputed stand-in of its shape over one scratch block that all stand-ins of a call share (so the rerun
// allocates no memory for them): nothing can read it after the read, and before it the eager kernels that would
// read it are the graph's. Results handed out share no storage with each other, with the arguments or with
// captured tensors (a pass may have merged them: `x * 1` is x), so host code after the read may write into them.
//
// Views run as usual (no kernel), from the tensors handed out. The random draws of the host code repeat the
// graph's (the generators are rewound after the graph ran). A call that is not the one the trace recorded at its
// place (host control flow that changed before the read) is an error naming both ops: the graph has already run.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ds/graph/ir.h>

namespace ds::graph {

// One primitive call of the trace before the read, as the rerun hands it out.
struct PrefixCall {
  static constexpr int32_t kRuns = -1;   // made by the call itself: a view, or the target of an in-place call
  static constexpr int32_t kFresh = -2;  // a result nothing reads after the read: an uncomputed stand-in
  OpId op{};
  SmallVec<int32_t, 2> outputs;  // per output of the op: an index into BreakPrefix::outputs, kRuns or kFresh
  Attrs attrs;                   // control flow's (cond, while_loop): the bodies the trace made, for the rerun
};

struct BreakPrefix {
  std::vector<PrefixCall> calls;  // in the order the traced function made them
  int32_t effects = 0;            // host effects (run_host_effect) before the read
  std::vector<ValueId> outputs;   // the trace's values the graph before the read returns
  int32_t stand_ins = 0;          // results handed out as uncomputed stand-ins
  int64_t stand_in_bytes = 0;  // the largest stand-in's bytes
};

// While this thread reruns a graph break's host code: the attributes of the trace's next call if it is `op` (a
// ds::cond in the rerun calls its op with the bodies the trace made instead of tracing its branches again).
std::optional<Attrs> traced_attrs(OpId op);

// The graph before `trace`'s first host read, returning `prefix.outputs`.
Graph prefix_graph(const Graph& trace, const BreakPrefix& prefix);

// While it lives, the calls this thread makes take their results from `produced` (the prefix graph's outputs, by
// BreakPrefix::outputs) until all calls and effects of `prefix` are made; then everything runs as usual.
class PrefixReplay {
 public:
  // `program`: tensors of the caller's (arguments, captured tensors) whose storage must not be handed out.
  // `on_effect(e)`: run when the rerun skips host effect e (counted from 0); `on_done`: once the calls and effects
  // of `prefix` are all made.
  PrefixReplay(const BreakPrefix& prefix, TensorList produced, std::span<const Tensor> program, std::string name,
               std::function<void(int32_t)> on_effect = {}, std::function<void()> on_done = {});
  ~PrefixReplay();
  PrefixReplay(const PrefixReplay&) = delete;
  PrefixReplay& operator=(const PrefixReplay&) = delete;

  // After the host code returned: throws if it made fewer calls or effects before returning than the trace did.
  void finish() const;
  // Whether the calls and effects of the prefix are all made.
  bool finished() const;

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace ds::graph
