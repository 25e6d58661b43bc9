#pragma once
// ds::compile: a function of tensors runs as one recorded graph. C++ has no bytecode to analyse, so compilation is
// trace-and-replay with guards:
//   - the first `warmup` calls run eagerly (optimizers set up their state on the first step: another code path);
//   - the next call runs eagerly while a Tracer records every primitive it runs (forward, the autograd engine's
//     backward, the optimizer's update, in-place writes, RNG draws, the gradients left in .grad), and the graph is
//     optimised (dead code, common subexpressions);
//   - later calls whose guards hold replay the graph without running the function's host code.
// Guards: each argument's dtype, device, shape, strides and requires_grad; grad mode; autocast on/off and its dtype.
// A call that fails them traces again (up to `max_graphs` graphs per function, then it runs eagerly, with a log line).
// Dims marked dynamic (CompileOptions::dynamic_dims) leave their size out of the guards once traces at a few sizes
// have been generalised into one graph for every size (graph/dynamic.h).
//
// What is baked in (document it where you compile): host control flow and host scalars (learning rates, step counts
// a host loop keeps) are those of the traced call. Host code that reads data (item(), tolist(), printing a tensor
// whose value depends on the arguments, parameters or random draws) makes a graph break: one log line names the read
// and the op that made the value, and calls with that trace's guards rerun the host code, so it sees every call's
// own numbers. The part before the read still runs compiled: as a graph whose results the rerun takes instead of
// running those kernels (graph/graph_break.h); from the read on, the call runs eagerly. The host code up to the
// read must make the traced calls (an error names the first that differs). (Range checks inside ops do not count
// as reads: the kernels repeat them.) Tensors the function reads
// without taking them as arguments (parameters, optimizer state, buffers) are captured by identity and read live, so
// updating them in place between calls is seen; replacing them with new tensor objects is not.
// DS_COMPILE=0 in the environment runs every call eagerly; DS_COMPILE_VERIFY=N checks every N-th replay against an
// eager run of the same call (the captured state restored in between) and throws naming the first output or
// tensor that differs.
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <ds/graph/ir.h>

namespace ds {

struct CompileOptions {
  int warmup = 1;          // eager calls before the trace
  bool optimize = true;    // run the graph passes
  bool fuse = true;        // run chains of pointwise ops as fused CPU programs (graph/fusion.h); DS_COMPILE_FUSE=0
                           // turns it off
  bool fold = true;        // run nodes that read only constants once, at compile time (passes.h); DS_COMPILE_FOLD=0
                           // turns it off
  bool remat = true;       // recompute cheap elementwise activations where the backward reads them (passes.h);
                           // DS_COMPILE_REMAT=0 turns it off
  bool reuse_memory = true;  // write results into inputs no later node reads (graph/memory_plan.h);
                             // DS_COMPILE_REUSE=0 turns it off
  bool arena = true;       // make the graph's intermediates at planned offsets in one block per device, allocated once
                           // per call (graph/memory_plan.h); DS_COMPILE_ARENA=0 turns it off
  int max_graphs = 8;      // traces kept per function (one per set of guards)
  // Dimensions whose size may change from call to call without a trace per size: {argument, dimension} pairs that
  // all have one size s in a call (the batch dimension of the inputs and of the labels). The first calls at new sizes
  // trace as usual; once three traces (four where a number grows as s^2, attention's T x T) agree on how every number
  // of the graph follows from s (graph/dynamic.h), a call at another size replays a graph made from them, untraced.
  // Host code that turns the size into something other than an op's attribute or a tensor's shape (a number kept
  // in a host effect) is not seen. A call whose marked sizes differ, are below 2 or belong to a non-contiguous
  // argument is specialised as if no dim were marked, and so is every call of a program whose traces cannot be
  // generalised (one log line names the number or node that differs).
  struct DynamicDim {
    int arg = 0, dim = 0;
  };
  std::vector<DynamicDim> dynamic_dims;
  int verify_every = -1;   // replays between eager checks; -1: DS_COMPILE_VERIFY (0: never)
  double verify_rtol = 1e-5, verify_atol = 1e-6;
  std::string name = "compiled function";  // in logs and errors
};

using TensorFunction = std::function<TensorList(std::span<const Tensor>)>;

class CompiledFunction {
 public:
  explicit CompiledFunction(TensorFunction fn, CompileOptions options = {});
  ~CompiledFunction();
  CompiledFunction(CompiledFunction&&) noexcept;
  CompiledFunction& operator=(CompiledFunction&&) noexcept;

  TensorList operator()(std::span<const Tensor> args);
  TensorList operator()(std::initializer_list<Tensor> args) { return (*this)({args.begin(), args.size()}); }

  struct Stats {
    int64_t eager = 0, traces = 0, replays = 0, verified = 0;
    int64_t nodes_removed = 0;  // by the passes, over all traces
    int64_t graph_breaks = 0;   // traces that read data on the host (their calls rerun the host code)
    int64_t prefix_replays = 0; // such calls whose graph before the break ran compiled (graph/graph_break.h)
    int64_t fused_nodes = 0;    // nodes run inside fused groups, over all traces' plans
    int64_t folded = 0;         // nodes constant folding ran once at compile time, over all traces
    int64_t recomputed = 0;     // nodes the rematerialisation pass added, over all traces
    int64_t reused_outputs = 0; // results the memory plans write into dying inputs, over all traces
    int64_t planned_peak_bytes = 0;  // the largest memory plan's peak of intermediates (graph/memory_plan.h)
    int64_t arena_bytes = 0;    // the largest memory plan's arena (its intermediates' block)
    int64_t generalized = 0;    // sets of traces generalised over the dynamic dims
    int64_t dynamic_graphs = 0; // graphs made from a generalised trace at a new size (without tracing)
  };
  const Stats& stats() const;
  // The graph the last call replayed or traced (null before the first trace).
  const graph::Graph* last_graph() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

CompiledFunction compile(TensorFunction fn, CompileOptions options = {});

}  // namespace ds
