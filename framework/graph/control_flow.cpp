#include "control_flow.h"

#include <bit>

#include <fmt/format.h>

#include <ds/autograd/engine.h>
#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/control_flow.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/factory.h>

#include "executor.h"
#include "graph_break.h"
#include "trace.h"

namespace ds {

namespace {

// The bodies of a traced cond or while_loop: graphs traced on the operands. A cond's inputs are the operands, then
// the captured tensors that require grad (`lifted`): the graphs read those live, as captured tensors; they are
// inputs of the op only so that autograd routes their gradients.
struct GraphBodies final : ControlFlowBodies {
  std::vector<graph::Graph> graphs;
  size_t operands = 0;
  std::vector<Tensor> lifted;  // the captured tensors that require grad (inputs after the operands)
  std::vector<OutMeta> in, out;
  Device dev = kCPU;

  TensorList run(int index, std::span<const Tensor> inputs) const override {
    return graph::execute(graphs[static_cast<size_t>(index)], inputs.first(operands));
  }
  std::span<const OutMeta> inputs() const override { return in; }
  std::span<const OutMeta> outputs() const override { return out; }
  std::optional<Device> device() const override { return dev; }

  // The gradients of branch b's inputs: it recomputes the branch with autograd on and differentiates it. args: the
  // op's inputs, then one gradient per output.
  TensorList branch_vjp(int b, std::span<const Tensor> args) const {
    EnableGradGuard grad_mode;
    std::vector<Tensor> xs, wrt;
    for (size_t i = 0; i < operands; ++i) {
      Tensor x = args[i].detach();
      if (is_floating(x.dtype())) {
        x.requires_grad_(true);
        wrt.push_back(x);
      }
      xs.push_back(x);
    }
    // (The tensors the graphs capture: the op's saved inputs may be other objects over their storage.)
    for (const Tensor& p : lifted) wrt.push_back(p);
    const TensorList ys = graph::execute(graphs[static_cast<size_t>(b)], xs, nullptr, true);
    std::vector<Tensor> outs, grads;
    for (size_t k = 0; k < ys.size(); ++k) {
      if (!ys[k].requires_grad()) continue;
      outs.push_back(ys[k]);
      grads.push_back(args[in.size() + k]);
    }
    std::vector<Tensor> got(wrt.size());
    if (!outs.empty()) got = grad(outs, wrt, grads, false, false, true);
    // One gradient per input, zeros where none reached it (a body's outputs are tensors).
    TensorList result;
    size_t next = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const bool has = i >= operands || is_floating(args[i].dtype());
      Tensor g = has ? got[next++] : Tensor();
      result.push_back(g.defined() ? g.detach() : zeros(in[i].sizes, {.dtype = in[i].dtype, .device = dev}));
    }
    return result;
  }

  TensorList vjp(const Tensor& pred, std::span<const Tensor> inputs, std::span<const Tensor> grads) const override {
    TensorList args(inputs);
    for (size_t k = 0; k < out.size(); ++k)
      args.push_back(grads[k].defined() ? grads[k] : zeros(out[k].sizes, {.dtype = out[k].dtype, .device = dev}));
    const DispatchState& st = dispatch_state();
    if (st.tracing || st.substituting)  // the backward of a traced step: decided at run time too
      return cond(
          pred, [this](std::span<const Tensor> a) { return branch_vjp(0, a); },
          [this](std::span<const Tensor> a) { return branch_vjp(1, a); }, args);
    return branch_vjp(truth_of(pred, "cond") ? 0 : 1, args);
  }
};

std::string type_of(const Tensor& t) {
  return fmt::format("{} {} on {}", dtype_name(t.dtype()), shape_str(t.sizes()), t.device().str());
}

// `fn` traced on `operands` into a graph of its own (run once, without autograd), checked for what a body may not do.
struct TracedBody {
  graph::Graph graph;
  TensorList outputs;
};
TracedBody trace_body(const Branch& fn, std::span<const Tensor> operands, const char* op, const char* what) {
  graph::Tracer* outer = graph::Tracer::current();
  NoGradGuard no_grad;
  // The trace's inputs are distinct tensor objects: an operand passed twice is traced as two.
  TensorList ins;
  for (const Tensor& x : operands)
    ins.push_back(std::any_of(ins.begin(), ins.end(), [&](const Tensor& y) { return y.impl() == x.impl(); })
                      ? alias_of(x) : x);
  // A graph break's rerun hands out results call by call (graph_break.h); the body's own calls are not among them.
  DispatchState& st = dispatch_state();
  struct Restore {
    DispatchState& s;
    bool substituting;
    ~Restore() { s.substituting = substituting; }
  } restore{st, st.substituting};
  st.substituting = false;
  TracedBody b;
  {
    graph::Tracer t(ins);
    b.outputs = fn(ins);
    b.graph = t.finish(b.outputs);
  }
  const graph::Graph& g = b.graph;
  DS_CHECK(g.host_reads().empty(), op, "{} reads data on the host ({}); it must be pure", what, g.host_read_str());
  DS_CHECK(g.rng().empty() && g.actions().empty(), op, "{} {}; it must be pure", what,
           g.rng().empty() ? "runs host effects (an optimizer step) or sets gradients" : "draws random numbers");
  // The storage of the operands and captured tensors, which the body must not write (also through a view).
  std::vector<bool> owned(g.num_values() + 1, false);
  for (const std::vector<graph::ValueId>* vs : {&g.inputs(), &g.captured_values()})
    for (graph::ValueId v : *vs) owned[static_cast<size_t>(g.value(v).alias)] = true;
  auto writes_owned = [&](graph::ValueId v) {
    return v != graph::kNoValue && owned[static_cast<size_t>(g.value(v).alias)];
  };
  for (const graph::Node& n : g.nodes()) {
    bool writes = writes_owned(n.target);
    for (uint32_t m = op_def(n.op).mutates; m; m &= m - 1)
      writes = writes || writes_owned(n.inputs[static_cast<size_t>(std::countr_zero(m))]);
    DS_CHECK(!writes, op, "{} writes into an operand or a captured tensor in place ({}); it must be pure", what,
             op_name(n.op));
  }
  for (const Tensor& c : g.captured()) {
    DS_CHECK(!outer || !outer->computed(c), op, "{} reads a tensor ({}) that the traced function computed or "
             "received, without taking it as an operand; pass it in the operands", what, type_of(c));
  }
  for (size_t k = 0; k < b.outputs.size(); ++k)
    DS_CHECK(operands.empty() || b.outputs[k].device() == operands[0].device(), op,
             "{} returns output {} on {}, its operands are on {}", what, k, b.outputs[k].device().str(),
             operands[0].device().str());
  return b;
}

// Whether control flow is recorded as an op: under a trace, or in a graph break's rerun (which made it so).
bool as_op() { return dispatch_state().tracing || dispatch_state().substituting; }

OutMeta meta_of(const Tensor& t) { return {Shape(t.sizes()), t.dtype()}; }

void check_same_types(const char* op, const TensorList& a, const TensorList& b, const char* what_a,
                      const char* what_b) {
  DS_CHECK(a.size() == b.size(), op, "{} returns {} tensors, {} {}", what_a, a.size(), what_b, b.size());
  for (size_t k = 0; k < a.size(); ++k)
    DS_CHECK(a[k].sizes() == b[k].sizes() && a[k].dtype() == b[k].dtype(), op,
             "{} returns output {} as {}, {} as {}", what_a, k, type_of(a[k]), what_b, type_of(b[k]));
}

}  // namespace

TensorList cond(const Tensor& pred, const Branch& true_fn, const Branch& false_fn, std::span<const Tensor> operands) {
  DS_CHECK(pred.defined() && pred.numel() == 1, "cond", "the predicate must be a tensor of one element, got {}",
           pred.defined() ? shape_str(pred.sizes()) : std::string("an undefined tensor"));
  if (!as_op()) return pred.item<double>() != 0 ? true_fn(operands) : false_fn(operands);
  // A graph break's rerun: the op the trace made, whose results the rerun takes.
  if (const std::optional<Attrs> a = graph::traced_attrs(OpId::cond)) {
    const auto& b = dynamic_cast<const GraphBodies&>(control_flow_bodies(a->get<ControlFlowAttrs>().bodies));
    TensorList in{pred};
    for (const Tensor& x : operands) in.push_back(x);
    for (const Tensor& p : b.lifted) in.push_back(p);
    return call_op(OpId::cond, in, *a);
  }

  auto bodies = std::make_shared<GraphBodies>();
  TracedBody t = trace_body(true_fn, operands, "cond", "the true branch");
  TracedBody f = trace_body(false_fn, operands, "cond", "the false branch");
  check_same_types("cond", t.outputs, f.outputs, "the true branch", "the false branch");
  bodies->operands = operands.size();
  bodies->dev = operands.empty() ? pred.device() : operands[0].device();
  TensorList in{pred};
  for (const Tensor& x : operands) {
    in.push_back(x);
    bodies->in.push_back(meta_of(x));
  }
  for (const graph::Graph* g : {&t.graph, &f.graph})
    for (const Tensor& c : g->captured()) {
      if (!c.requires_grad() || std::any_of(in.begin() + 1, in.end(), [&](const Tensor& x) {
            return x.impl() == c.impl();
          }))
        continue;
      DS_CHECK(c.device() == bodies->dev, "cond", "a branch reads a tensor that requires grad ({}) on another device "
               "than the operands ({})", type_of(c), bodies->dev.str());
      in.push_back(c);
      bodies->in.push_back(meta_of(c));
      bodies->lifted.push_back(c);
    }
  for (const Tensor& y : t.outputs) bodies->out.push_back(meta_of(y));
  bodies->graphs.push_back(std::move(t.graph));
  bodies->graphs.push_back(std::move(f.graph));
  return call_op(OpId::cond, in, ControlFlowAttrs{register_control_flow(std::move(bodies))});
}

TensorList while_loop(const std::function<Tensor(std::span<const Tensor>)>& cond_fn, const Branch& body_fn,
                      std::span<const Tensor> init) {
  for (size_t i = 0; i < init.size(); ++i)
    DS_CHECK(!(is_grad_enabled() && init[i].requires_grad()), "while_loop", "is not differentiable (its trip count "
             "is data), but carried value {} ({}) requires grad; run it under ds::NoGradGuard or pass it detached",
             i, type_of(init[i]));
  const Branch condition = [&](std::span<const Tensor> v) { return TensorList{cond_fn(v)}; };
  if (!as_op()) {
    TensorList carried(init);
    for (;;) {
      const Tensor p = cond_fn(carried);
      DS_CHECK(p.defined() && p.numel() == 1, "while_loop", "the condition must return a tensor of one element, got "
               "{}", p.defined() ? shape_str(p.sizes()) : std::string("an undefined tensor"));
      if (p.item<double>() == 0) return carried;
      TensorList next = body_fn(carried);
      check_same_types("while_loop", next, TensorList(init), "the body", "the carried values are");
      carried = std::move(next);
    }
  }
  if (const std::optional<Attrs> a = graph::traced_attrs(OpId::while_loop)) return call_op(OpId::while_loop, init, *a);
  TracedBody c = trace_body(condition, init, "while_loop", "the condition");
  DS_CHECK(c.outputs[0].defined() && c.outputs[0].numel() == 1, "while_loop", "the condition must return a tensor "
           "of one element, got {}", c.outputs[0].defined() ? shape_str(c.outputs[0].sizes()) : "undefined");
  TracedBody b = trace_body(body_fn, init, "while_loop", "the body");
  check_same_types("while_loop", b.outputs, TensorList(init), "the body", "the carried values are");
  for (const Tensor& t : b.graph.captured())
    DS_CHECK(!(is_grad_enabled() && t.requires_grad()), "while_loop", "is not differentiable, but the body reads a "
             "tensor that requires grad ({}); run it under ds::NoGradGuard", type_of(t));
  auto bodies = std::make_shared<GraphBodies>();
  bodies->operands = init.size();
  bodies->dev = init.empty() ? kCPU : init[0].device();
  for (const Tensor& x : init) bodies->in.push_back(meta_of(x));
  bodies->out = bodies->in;
  bodies->graphs.push_back(std::move(c.graph));
  bodies->graphs.push_back(std::move(b.graph));
  return call_op(OpId::while_loop, init, ControlFlowAttrs{register_control_flow(std::move(bodies))});
}

}  // namespace ds
