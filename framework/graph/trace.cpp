#include "trace.h"

#include <bit>

#include <ds/core/detail/check.h>
#include <ds/ops/dispatch.h>

namespace ds::graph {

namespace {

thread_local Tracer* tls_tracer = nullptr;

void trace_hook(const OpDef& def, OpId op, std::span<const Tensor> inputs, const Attrs& attrs,
                std::span<const Tensor> outputs, const Tensor* target) {
  if (tls_tracer) tls_tracer->record(def, op, inputs, attrs, outputs, target);
}

void trace_rng_hook(const Tensor& state, Generator& generator, uint64_t counters) {
  if (tls_tracer) tls_tracer->record_rng(state, generator, counters);
}

void trace_grad_hook(const Tensor& leaf, const Tensor& grad) {
  if (tls_tracer) tls_tracer->record_grad(leaf, grad);
}

void trace_host_hook(const std::function<void()>& effect) {
  if (tls_tracer) tls_tracer->record_host_effect(effect);
}

void host_read_hook(const TensorBase& t, const char* what, bool check) {
  if (tls_tracer) tls_tracer->record_host_read(Tensor(t), what, check);
}

bool traced_hook(const TensorImpl* t) { return tls_tracer && tls_tracer->holds(t); }

}  // namespace

Tracer* Tracer::current() { return tls_tracer; }

Tracer::Tracer(std::span<const Tensor> inputs) {
  DispatchHooks& hooks = dispatch_hooks();
  hooks.trace = &trace_hook;
  hooks.trace_rng = &trace_rng_hook;
  hooks.trace_grad = &trace_grad_hook;
  hooks.trace_host = &trace_host_hook;
  hooks.traced = &traced_hook;
  set_host_read_hook(&host_read_hook);
  for (size_t i = 0; i < inputs.size(); ++i) {
    DS_CHECK(inputs[i].defined(), "trace", "argument {} is an undefined tensor", i);
    DS_CHECK(!values_.contains(inputs[i].impl()), "trace", "argument {} is the same tensor as an earlier one", i);
    bind(inputs[i], graph_.add_input(inputs[i]));
  }
  prev_ = tls_tracer;
  prev_tracing_ = dispatch_state().tracing;
  tls_tracer = this;
  dispatch_state().tracing = true;
}

Tracer::~Tracer() {
  if (done_) return;
  tls_tracer = prev_;
  dispatch_state().tracing = prev_tracing_;
}

void Tracer::bind(const Tensor& t, ValueId v) {
  const auto [it, fresh] = values_.insert_or_assign(t.impl(), v);
  by_storage_[t.impl()->storage().get()].emplace_back(v, t.impl());
  if (fresh) keep_.push_back(t);  // one reference per tensor (traced_hook's promise)
}

bool Tracer::holds(const TensorImpl* t) const { return values_.contains(t); }

bool Tracer::computed(const Tensor& t) const {
  ValueId v = kNoValue;
  if (const auto it = values_.find(t.impl()); it != values_.end()) v = it->second;
  else if (const auto s = by_storage_.find(t.impl()->storage().get()); s != by_storage_.end() && !s->second.empty())
    v = s->second.back().first;
  if (v == kNoValue) return false;
  // A version of a captured tensor written in place, or a view of one, is still that tensor: read live.
  for (ValueId c : graph_.captured_values())
    if (graph_.value(c).alias == graph_.value(v).alias) return false;
  return true;
}

ValueId Tracer::value_of(const Tensor& t) {
  if (!t.defined()) return kNoValue;
  const auto it = values_.find(t.impl());
  if (it != values_.end()) return it->second;
  // Another tensor object over storage the trace knows: the latest value there with the same geometry, else a view
  // of that value rebuilt at run time.
  const auto same = by_storage_.find(t.impl()->storage().get());
  if (same != by_storage_.end() && !same->second.empty()) {
    for (auto k = same->second.rbegin(); k != same->second.rend(); ++k) {
      const TensorImpl* o = k->second;
      if (o->dtype() == t.dtype() && o->sizes() == t.sizes() && o->strides() == t.strides() &&
          o->storage_offset() == t.storage_offset()) {
        const ValueId v = k->first;  // (bind appends to the list `k` walks)
        bind(t, v);
        return v;
      }
    }
    const ValueId base = same->second.back().first;
    const ValueId views[] = {base};
    const Tensor outs[] = {t};
    const AsStridedAttrs geometry{.sizes = Shape(t.sizes()), .strides = Shape(t.strides()),
                                  .offset = t.storage_offset()};
    const ValueId v = graph_.add_node(OpId::as_strided, geometry, views, outs, views)[0];
    bind(t, v);
    return v;
  }
  const ValueId v = graph_.add_captured(t);
  bind(t, v);
  return v;
}

void Tracer::record(const OpDef& def, OpId op, std::span<const Tensor> inputs, const Attrs& attrs,
                    std::span<const Tensor> outputs, const Tensor* target) {
  SmallVec<ValueId, 4> ins;
  for (const Tensor& t : inputs) ins.push_back(value_of(t));
  const ValueId target_value = target ? value_of(*target) : kNoValue;

  // The op's outputs, then the new versions of the inputs its kernel updates in place (the row's `mutates`).
  TensorList outs(outputs);
  SmallVec<ValueId, 4> alias_of;
  for (size_t k = 0; k < outputs.size(); ++k) {
    ValueId base = kNoValue;
    if (k == 0 && target) base = target_value;
    else if (k == 0 && def.kind == OpKind::View) base = ins[0];
    alias_of.push_back(base);
  }
  for (uint32_t m = def.mutates; m; m &= m - 1) {
    const auto i = static_cast<size_t>(std::countr_zero(m));
    outs.push_back(inputs[i]);
    alias_of.push_back(ins[i]);
  }
  const std::span<const ValueId> made = graph_.add_node(op, attrs, ins, outs, alias_of, target_value);
  for (size_t k = 0; k < outs.size(); ++k) bind(outs[k], made[k]);
  if (break_) return;
  Call& c = calls_.emplace_back();
  c.op = op;
  if (op == OpId::cond || op == OpId::while_loop) c.attrs = attrs;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const bool made_storage = def.kind != OpKind::View && !(k == 0 && target);
    c.outs.push_back(made_storage ? outputs[k].impl() : nullptr);
    c.values.push_back(made[k]);
  }
}

void Tracer::plan_break() {
  // A storage is reachable when something besides the trace's own references holds it: the trace keeps one
  // reference to every tensor it saw, and tensors of the trace nobody else holds any more hold their storage.
  std::unordered_map<const Storage*, int32_t> dropped;
  for (const Tensor& t : keep_)
    if (t.impl()->use_count() == 1) ++dropped[t.impl()->storage().get()];
  auto reachable = [&](const TensorImpl* t) {
    const Storage* s = t->storage().get();
    const auto it = dropped.find(s);
    return s->use_count() > (it == dropped.end() ? 0 : it->second) || read_storages_.contains(s);
  };
  BreakPrefix p;
  p.effects = effects_;
  for (const Call& c : calls_) {
    PrefixCall& pc = p.calls.emplace_back();
    pc.op = c.op;
    pc.attrs = c.attrs;
    for (size_t k = 0; k < c.outs.size(); ++k) {
      if (!c.outs[k]) {
        pc.outputs.push_back(PrefixCall::kRuns);
      } else if (reachable(c.outs[k])) {
        pc.outputs.push_back(static_cast<int32_t>(p.outputs.size()));
        p.outputs.push_back(c.values[k]);
      } else {
        pc.outputs.push_back(PrefixCall::kFresh);
        ++p.stand_ins;
        p.stand_in_bytes = std::max(p.stand_in_bytes, static_cast<int64_t>(c.outs[k]->storage()->nbytes()));
      }
    }
  }
  break_ = std::move(p);
  calls_.clear();
  read_storages_.clear();
}

void Tracer::record_rng(const Tensor& state, Generator& generator, uint64_t counters) {
  bind(state, graph_.add_rng(state, generator, counters));
  rng_states_.push_back(state);
}

void Tracer::record_grad(const Tensor& leaf, const Tensor& grad) {
  const ValueId l = value_of(leaf);
  // A leaf the trace made itself (a tensor created and differentiated inside the function) is not the program's.
  // Every assignment is kept, in order (a later zero_grad may drop the gradient again).
  if (graph_.value(l).kind == ValueKind::Captured) graph_.set_grad(l, value_of(grad));
}

bool Tracer::depends_on_data(ValueId v) {
  // Values only ever read earlier ones, so one scan in order covers the values added since the last call.
  for (auto id = static_cast<ValueId>(data_.size()); id < static_cast<ValueId>(graph_.num_values()); ++id) {
    const Value& x = graph_.value(id);
    bool data = x.kind != ValueKind::Result;
    if (!data) {
      const Node& n = graph_.nodes()[static_cast<size_t>(x.node)];
      for (ValueId in : n.inputs) data = data || (in != kNoValue && data_[static_cast<size_t>(in)]);
      data = data || (n.target != kNoValue && data_[static_cast<size_t>(n.target)]);
    }
    data_.push_back(data);
  }
  return data_[static_cast<size_t>(v)];
}

void Tracer::record_host_read(const Tensor& t, const char* what, bool check) {
  if (check) {  // (the graph does not change: a check reads what it reads, and the kernels check again)
    if (!break_ && t.defined()) read_storages_.insert(t.impl()->storage().get());
    return;
  }
  const ValueId v = value_of(t);
  if (v == kNoValue) return;
  if (!depends_on_data(v)) {
    if (!break_) read_storages_.insert(t.impl()->storage().get());
    return;
  }
  if (!break_) plan_break();
  graph_.add_host_read(v, what);
}

void Tracer::record_host_effect(const std::function<void()>& effect) {
  graph_.add_effect(effect);
  if (!break_) ++effects_;
}

Graph Tracer::finish(std::span<const Tensor> outputs) {
  DS_CHECK(!done_, "trace", "finish() was already called");
  std::vector<ValueId> outs;
  for (size_t i = 0; i < outputs.size(); ++i) {
    DS_CHECK(outputs[i].defined(), "trace", "output {} is an undefined tensor", i);
    outs.push_back(value_of(outputs[i]));
  }
  tls_tracer = prev_;
  dispatch_state().tracing = prev_tracing_;
  done_ = true;
  graph_.set_outputs(std::move(outs));
  graph_.freeze_dead_rng(rng_states_);
  graph_.verify();
  keep_.clear();
  rng_states_.clear();
  values_.clear();
  return std::move(graph_);
}

}  // namespace ds::graph
