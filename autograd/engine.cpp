// The backward engine, and the hooks that connect autograd to the op layer's choke point (recording a node per
// op, rebasing history after an in-place op, Tensor::backward).
#include "engine.h"

#include <atomic>
#include <functional>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include <ds/core/detail/check.h>
#include <ds/core/logging.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/reduce.h>

#include "anomaly.h"
#include "node.h"

namespace ds {

namespace {
std::atomic<bool> g_anomaly{false};
}  // namespace

bool is_anomaly_enabled() { return g_anomaly.load(std::memory_order_relaxed); }
void set_anomaly_enabled(bool enabled) {
  if (enabled && !g_anomaly.load(std::memory_order_relaxed))
    log_warn("anomaly detection is on: every backward function's output is checked for NaN and infinity, which "
             "slows backward down; use it to find a bug, not to train");
  g_anomaly.store(enabled, std::memory_order_relaxed);
  dispatch_state().check_finite = enabled;  // the forward half, on this thread
}

namespace autograd {
namespace {

struct Capture {
  uint32_t slot;
  size_t index;
};

// Whether the graph task running on this thread is a grad() (nodes that backpropagate by themselves, such as a
// checkpoint, need to know); tasks nest when a node runs a backward of its own.
thread_local bool tls_capture_mode = false;
thread_local int tls_task_depth = 0;  // graph tasks running on this thread (the memory profiler asks)
class CaptureModeScope {
 public:
  explicit CaptureModeScope(bool on) : prev_(tls_capture_mode) {
    tls_capture_mode = on;
    ++tls_task_depth;
  }
  ~CaptureModeScope() {
    tls_capture_mode = prev_;
    --tls_task_depth;
  }

 private:
  bool prev_;
};

// The callbacks of the outermost graph task running on this thread (queue_callback adds to them). A task nested
// inside it (a checkpoint's recomputation) leaves them to the outer task, which is the backward the user called.
thread_local std::vector<std::function<void()>>* tls_callbacks = nullptr;
class CallbackScope {
 public:
  explicit CallbackScope(std::vector<std::function<void()>>* list) : owner_(tls_callbacks == nullptr) {
    if (owner_) tls_callbacks = list;
  }
  ~CallbackScope() {
    if (owner_) tls_callbacks = nullptr;
  }
  bool owner() const { return owner_; }

 private:
  bool owner_;
};

class GraphTask {
 public:
  // create_graph needs nothing here: the caller's grad mode makes the vjps record themselves.
  GraphTask(bool retain_graph, bool capture_mode) : retain_(retain_graph), capture_mode_(capture_mode) {}

  void add_capture(const Edge& e, size_t index) { captures_[e.node.get()].push_back({e.input_nr, index}); }

  // Runs the graph from the root edges with their gradients; returns the captured gradients (grad mode).
  std::vector<Tensor> run(const std::vector<Edge>& roots, const std::vector<Tensor>& grads, size_t num_captures) {
    CaptureModeScope mode(capture_mode_);
    captured_.assign(num_captures, Tensor());
    discover(roots);
    for (size_t i = 0; i < roots.size(); ++i) {
      if (!needed(roots[i].node.get())) continue;
      add_grad(roots[i].node.get(), roots[i].input_nr, grads[i]);
    }
    std::unordered_set<Node*> seeded;
    for (const Edge& r : roots)
      if (needed(r.node.get()) && deps_[r.node.get()] == 0 && seeded.insert(r.node.get()).second) ready_.push(r.node);
    CallbackScope callbacks(&callbacks_);
    while (!ready_.empty()) {
      std::shared_ptr<Node> node = ready_.top();
      ready_.pop();
      execute(node);
    }
    // Callbacks may queue further callbacks; they run too, in order.
    for (size_t i = 0; callbacks.owner() && i < callbacks_.size(); ++i) {
      std::function<void()> fn = std::move(callbacks_[i]);
      fn();
    }
    return std::move(captured_);
  }

 private:
  // Gradient sinks first (as soon as a leaf's gradient is complete, its post-accumulate hooks fire), then the most
  // recent node.
  struct BySeq {
    bool operator()(const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) const {
      if (a->is_sink() != b->is_sink()) return b->is_sink();
      return a->sequence_nr() < b->sequence_nr();
    }
  };

  bool needed(Node* n) const { return !capture_mode_ || needed_.count(n); }

  // Finds every node reachable from the roots, which of them lead to a captured input (grad mode), and counts the
  // edges into each node from nodes that will run.
  void discover(const std::vector<Edge>& roots) {
    std::vector<Node*> order;  // post-order
    std::unordered_set<Node*> seen;
    std::vector<std::pair<Node*, size_t>> stack;
    for (const Edge& r : roots) {
      if (!seen.insert(r.node.get()).second) continue;
      stack.push_back({r.node.get(), 0});
      while (!stack.empty()) {
        auto& [n, i] = stack.back();
        auto& next = n->next_edges();
        if (i < next.size()) {
          Node* c = next[i++].node.get();
          if (c && seen.insert(c).second) stack.push_back({c, 0});
        } else {
          order.push_back(n);
          stack.pop_back();
        }
      }
    }
    if (capture_mode_) {
      for (Node* n : order) {  // children come before parents in post-order
        bool need = captures_.count(n) > 0;
        for (const Edge& e : n->next_edges()) need |= e.node && needed_.count(e.node.get()) > 0;
        if (need) needed_.insert(n);
      }
    }
    for (Node* n : order) {
      if (!needed(n)) continue;
      for (const Edge& e : n->next_edges())
        if (e.node && needed(e.node.get())) ++deps_[e.node.get()];
    }
  }

  void add_grad(Node* n, uint32_t slot, const Tensor& g) {
    TensorList& buf = buffers_[n];
    if (buf.size() < n->num_outputs()) buf.resize(n->num_outputs());
    if (!g.defined()) return;
    Tensor& dst = buf[slot];
    dst = dst.defined() ? dst + g : g;
  }

  void execute(const std::shared_ptr<Node>& node) {
    Node* n = node.get();
    TensorList grads = std::move(buffers_[n]);
    buffers_.erase(n);
    grads.resize(n->num_outputs());
    auto& hooks = n->output_hooks();
    for (size_t s = 0; s < hooks.size(); ++s) {
      if (!hooks[s] || !grads[s].defined()) continue;
      hooks[s]->for_each([&](const TensorHook& h) {
        TensorBase r = h(grads[s]);
        if (r.defined()) grads[s] = Tensor(std::move(r));
      });
    }
    if (auto it = captures_.find(n); it != captures_.end())
      for (const Capture& c : it->second) {
        Tensor& dst = captured_[c.index];
        if (grads[c.slot].defined()) dst = dst.defined() ? dst + grads[c.slot] : grads[c.slot];
      }

    bool any = false;
    for (const Tensor& g : grads) any |= g.defined();
    bool runs_children = false;
    for (const Edge& e : n->next_edges()) runs_children |= e.node && needed(e.node.get());
    const bool is_sink = n->is_sink();
    TensorList in_grads;
    if (any && (is_sink ? !capture_mode_ : runs_children)) {
      // Inside a backward function anomaly mode checks the gradients it returns (naming the node) rather than each
      // op of the vjp, so the forward half is paused here.
      DispatchState& st = dispatch_state();
      const bool forward_checks = st.check_finite;
      st.check_finite = false;
      try {
        in_grads = n->apply(std::move(grads));
        if (is_anomaly_enabled()) check_finite(*n, in_grads);
      } catch (...) {
        st.check_finite = forward_checks;
        throw;
      }
      st.check_finite = forward_checks;
    }
    if (!retain_) n->release_saved();
    auto& next = n->next_edges();
    for (size_t i = 0; i < next.size(); ++i) {
      const Edge& e = next[i];
      if (!e.node || !needed(e.node.get())) continue;
      add_grad(e.node.get(), e.input_nr, i < in_grads.size() ? in_grads[i] : Tensor());
      if (--deps_[e.node.get()] == 0) ready_.push(e.node);
    }
  }

  static void check_finite(const Node& n, const TensorList& grads) {
    NoGradGuard no_grad;
    for (size_t i = 0; i < grads.size(); ++i) {
      const Tensor& g = grads[i];
      if (!g.defined() || !is_floating(g.dtype()) || g.numel() == 0) continue;
      const bool finite = sum(ne(g, g) | (abs(g) == INFINITY)).item<int64_t>() == 0;
      DS_CHECK(finite, "anomaly",
               "the backward of {} produced a non-finite value (NaN or infinity) in the gradient of its input {} "
               "(shape {})", n.name(), i, shape_str(g.sizes()));
    }
  }

  bool retain_, capture_mode_;
  std::unordered_map<Node*, int> deps_;
  std::unordered_map<Node*, TensorList> buffers_;
  std::unordered_map<Node*, std::vector<Capture>> captures_;
  std::unordered_set<Node*> needed_;
  std::vector<Tensor> captured_;
  std::vector<std::function<void()>> callbacks_;
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, BySeq> ready_;
};

// The root edges and their starting gradients (ones for a one-element output without one).
void prepare_roots(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, const char* op,
                   std::vector<Edge>& edges, std::vector<Tensor>& grads) {
  DS_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), op,
           "got {} outputs but {} gradients for them", outputs.size(), grad_outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& y = outputs[i];
    DS_CHECK(y.defined(), op, "output {} is undefined", i);
    Edge e = gradient_edge(y);
    DS_CHECK(e.valid(), op, "output {} (shape {}) does not require grad and has no grad_fn", i, shape_str(y.sizes()));
    Tensor g = i < grad_outputs.size() ? grad_outputs[i] : Tensor();
    if (!g.defined()) {
      DS_CHECK(y.numel() == 1, op,
               "a gradient can be created implicitly only for one-element outputs; output {} has shape {}", i,
               shape_str(y.sizes()));
      g = ones_like(y);
    } else {
      DS_CHECK(g.sizes() == y.sizes(), op, "the gradient of output {} has shape {}, expected {}", i,
               shape_str(g.sizes()), shape_str(y.sizes()));
      if (g.dtype() != y.dtype()) g = g.to(y.dtype());
    }
    edges.push_back(std::move(e));
    grads.push_back(std::move(g));
  }
}

}  // namespace

// Installed into the op layer (DispatchHooks) when the library loads.
void record(const OpDef& def, OpId op, std::span<const Tensor> inputs, const Attrs& attrs, std::span<Tensor> outputs) {
  auto node = std::make_shared<OpNode>(def, op, inputs, attrs, outputs);
  for (size_t j = 0; j < outputs.size(); ++j) {
    TensorImpl* impl = outputs[j].impl();
    if (!is_floating(impl->dtype())) continue;
    impl->set_requires_grad(true);
    AutogradMeta& m = impl->autograd_mut();
    m.grad_fn = node;
    m.output_nr = static_cast<uint32_t>(j);
  }
  node->save_outputs(outputs);
}

void rebase(Tensor& self, const Tensor& result) {
  AutogradMeta& m = self.impl()->autograd_mut();
  const AutogradMeta* r = result.impl()->autograd();
  m.grad_fn = r ? r->grad_fn : nullptr;
  m.output_nr = r ? r->output_nr : 0;
  self.impl()->set_requires_grad(result.requires_grad());
}

bool in_grad_call() { return tls_capture_mode; }

void queue_callback(std::function<void()> fn) {
  DS_CHECK(tls_callbacks != nullptr, "queue_callback",
           "no backward is running on this thread: a callback can be queued only from a hook or a backward "
           "function, to run when that backward ends");
  tls_callbacks->push_back(std::move(fn));
}
bool in_backward() { return tls_task_depth > 0; }

void tensor_backward(const Tensor& root, const Tensor& grad, bool retain_graph, bool create_graph) {
  ds::backward({root}, {grad}, retain_graph, create_graph);
}

namespace {
[[maybe_unused]] const bool g_installed = [] {
  DispatchHooks& h = dispatch_hooks();
  h.record = &record;
  h.rebase = &rebase;
  h.backward = &tensor_backward;
  return true;
}();
}  // namespace

}  // namespace autograd

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
              bool create_graph) {
  std::vector<autograd::Edge> edges;
  std::vector<Tensor> grads;
  autograd::prepare_roots(outputs, grad_outputs, "backward", edges, grads);
  const bool retain = retain_graph || create_graph;
  GradModeGuard mode(create_graph);
  autograd::GraphTask(retain, false).run(edges, grads, 0);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool create_graph,
                         bool allow_unused) {
  std::vector<autograd::Edge> edges;
  std::vector<Tensor> grads;
  autograd::prepare_roots(outputs, grad_outputs, "grad", edges, grads);
  autograd::GraphTask task(retain_graph || create_graph, true);
  for (size_t i = 0; i < inputs.size(); ++i) {
    DS_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "grad", "input {} does not require grad", i);
    task.add_capture(autograd::gradient_edge(inputs[i]), i);
  }
  GradModeGuard mode(create_graph);
  std::vector<Tensor> result = task.run(edges, grads, inputs.size());
  for (size_t i = 0; i < result.size(); ++i) {
    DS_CHECK(result[i].defined() || allow_unused, "grad",
             "input {} (shape {}) was not used to compute the outputs; pass allow_unused=true to get an undefined "
             "gradient for it", i, shape_str(inputs[i].sizes()));
  }
  return result;
}

}  // namespace ds
