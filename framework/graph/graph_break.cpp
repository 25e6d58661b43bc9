#include "graph_break.h"

#include <unordered_set>

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/dispatch.h>

#include "arena.h"

namespace ds::graph {

struct PrefixReplay::State {
  const BreakPrefix* prefix = nullptr;
  TensorList produced;
  std::string name;
  size_t call = 0;
  int32_t effects = 0;
  State* prev = nullptr;
  bool prev_substituting = false;
  std::vector<IntrusivePtr<Storage>> scratch;  // the stand-ins' blocks, one per device
  std::function<void(int32_t)> on_effect;
  std::function<void()> on_done;

  Tensor stand_in(const OutMeta& meta, Device device);
  bool done() const { return call == prefix->calls.size() && effects == prefix->effects; }
  void stop_if_done() {
    if (!done()) return;
    dispatch_state().substituting = false;
    if (on_done) std::exchange(on_done, nullptr)();
  }
  [[noreturn]] void diverged(const std::string& what) const {
    DS_FAIL("compile", "{}: the host code took another path than the traced one before its graph break ({}); the "
            "compiled part before the break has already run, so this call's effects are the traced path's", name,
            what);
  }
  bool substitute(const OpDef& def, OpId op, const RuleResult& r, const Tensor* out, TensorList& outs);
};

namespace {

thread_local PrefixReplay::State* tls_replay = nullptr;

bool substitute_hook(const OpDef& def, OpId op, std::span<const Tensor>, const RuleResult& r, const Tensor* out,
                     TensorList& outs) {
  return tls_replay && tls_replay->substitute(def, op, r, out, outs);
}

bool substitute_effect_hook() {
  PrefixReplay::State* s = tls_replay;
  if (!s || s->effects >= s->prefix->effects) return false;
  if (s->on_effect) s->on_effect(s->effects);
  ++s->effects;
  s->stop_if_done();
  return true;
}

}  // namespace

// A tensor of meta's shape over the start of the device's scratch block (each stand-in holds the block).
Tensor PrefixReplay::State::stand_in(const OutMeta& meta, Device device) {
  int64_t n = 1;
  for (int64_t d : meta.sizes) n *= std::max<int64_t>(d, 1);
  const auto bytes = static_cast<size_t>(n) * itemsize(meta.dtype);
  IntrusivePtr<Storage>* block = nullptr;
  for (IntrusivePtr<Storage>& b : scratch)
    if (b->device() == device) block = &b;
  if (!block || (*block)->nbytes() < bytes) {
    const size_t size = std::max(bytes, static_cast<size_t>(prefix->stand_in_bytes));
    IntrusivePtr<Storage> fresh = IntrusivePtr<Storage>::make(size, allocator_for(device));
    if (block) *block = std::move(fresh);
    else block = &scratch.emplace_back(std::move(fresh));
  }
  return tensor_in_block(*block, 0, meta.dtype, meta.sizes);
}

bool PrefixReplay::State::substitute(const OpDef& def, OpId op, const RuleResult& r, const Tensor* out,
                                     TensorList& outs) {
  if (call >= prefix->calls.size())
    diverged(fmt::format("{} is one call more than the {} traced", def.name, prefix->calls.size()));
  const PrefixCall& c = prefix->calls[call];
  if (c.op != op) diverged(fmt::format("call {} is {}, the trace's was {}", call, def.name, op_name(c.op)));
  const size_t n = def.kind == OpKind::View ? 1 : r.outs.size();
  if (c.outputs.size() != n)
    diverged(fmt::format("call {} ({}) makes {} outputs, the trace's {}", call, def.name, n, c.outputs.size()));
  ++call;
  if (def.kind == OpKind::View) {
    stop_if_done();
    return false;
  }
  outs.clear();
  for (size_t k = 0; k < n; ++k) {
    const OutMeta& meta = r.outs[k];
    const int32_t slot = c.outputs[k];
    if (k == 0 && out) {
      outs.push_back(*out);
    } else if (slot < 0) {
      outs.push_back(stand_in(meta, r.device));
    } else {
      Tensor& t = produced[static_cast<size_t>(slot)];
      if (!t.defined() || t.sizes() != meta.sizes || t.dtype() != meta.dtype)
        diverged(fmt::format("call {} ({}) makes output {} as {} {}, the trace's was {}", call - 1, def.name, k,
                             dtype_name(meta.dtype), shape_str(meta.sizes),
                             t.defined() ? fmt::format("{} {}", dtype_name(t.dtype()), shape_str(t.sizes()))
                                         : std::string("handed out already")));
      outs.push_back(std::move(t));  // (not held here: code that decides by reference counts must see eager's)
    }
  }
  stop_if_done();
  return true;
}

std::optional<Attrs> traced_attrs(OpId op) {
  const PrefixReplay::State* s = tls_replay;
  if (!s || !dispatch_state().substituting || s->call >= s->prefix->calls.size()) return std::nullopt;
  const PrefixCall& c = s->prefix->calls[s->call];
  if (c.op != op) return std::nullopt;
  return c.attrs;
}

Graph prefix_graph(const Graph& trace, const BreakPrefix& prefix) {
  Graph g = trace.before_host_read();
  g.set_outputs(prefix.outputs);
  g.verify();
  return g;
}

PrefixReplay::PrefixReplay(const BreakPrefix& prefix, TensorList produced, std::span<const Tensor> program,
                           std::string name, std::function<void(int32_t)> on_effect,
                           std::function<void()> on_done)
    : s_(std::make_unique<State>()) {
  DS_CHECK(produced.size() == prefix.outputs.size(), "graph", "the graph before the break made {} results, the "
           "trace {}", produced.size(), prefix.outputs.size());
  // Each result handed out gets storage of its own, laid out as a fresh result's, so host code after the read may
  // write into it: one that shares storage with the program's tensors or an earlier result (passes merge values) or
  // that a pass left strided is copied. (Before the substitution starts: the copy is an op.)
  std::unordered_set<const Storage*> taken;
  for (const Tensor& t : program)
    if (t.defined()) taken.insert(t.impl()->storage().get());
  {
    NoGradGuard no_grad;
    for (Tensor& t : produced) {
      if (!t.defined()) continue;
      const bool own = t.is_contiguous() && t.storage_offset() == 0 && !taken.contains(t.impl()->storage().get());
      if (!own) t = t.clone();
      taken.insert(t.impl()->storage().get());
      if (own) t = alias_of(t);  // a tensor object of its own, as a fresh result would be
    }
  }
  s_->prefix = &prefix;
  s_->produced = std::move(produced);
  s_->name = std::move(name);
  s_->on_effect = std::move(on_effect);
  s_->on_done = std::move(on_done);
  DispatchHooks& hooks = dispatch_hooks();
  hooks.substitute = &substitute_hook;
  hooks.substitute_effect = &substitute_effect_hook;
  s_->prev = tls_replay;
  s_->prev_substituting = dispatch_state().substituting;
  tls_replay = s_.get();
  dispatch_state().substituting = true;
  s_->stop_if_done();
}

PrefixReplay::~PrefixReplay() {
  tls_replay = s_->prev;
  dispatch_state().substituting = s_->prev_substituting;
}

bool PrefixReplay::finished() const { return s_->done(); }

void PrefixReplay::finish() const {
  if (s_->done()) return;
  s_->diverged(fmt::format("it returned after {} of the {} calls and {} of the {} host effects traced before the "
                           "break", s_->call, s_->prefix->calls.size(), s_->effects, s_->prefix->effects));
}

}  // namespace ds::graph
