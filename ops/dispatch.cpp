#include "dispatch.h"

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/core/deterministic.h>

namespace ds {

DispatchHooks& dispatch_hooks() {
  static DispatchHooks h;
  return h;
}

DispatchState& dispatch_state() {
  static thread_local DispatchState s;
  return s;
}

namespace {

bool any_requires_grad(std::span<const Tensor> ts) {
  for (const Tensor& t : ts)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor cast(const Tensor& t, DType dtype) { return call_op1(OpId::copy, {t}, CopyAttrs{dtype}); }

Tensor make_view(const Tensor& base, ViewGeometry& g) {
  auto impl = IntrusivePtr<TensorImpl>::make(base.impl()->storage(), base.dtype(), std::move(g.sizes),
                                             std::move(g.strides), g.offset);
  impl->set_is_view(true);
  return Tensor(std::move(impl));
}

[[noreturn]] void wrong_attrs(const OpDef& def, const Attrs& attrs) {
  DS_FAIL(def.name, "takes attributes {} but was called with {}", def.attrs ? def.attrs->type_name : "(none)",
          attrs.schema() ? attrs.schema()->type_name : "(none)");
}

std::string dtypes_str(DTypeSet set) {
  std::string s;
  for (int t = 0; t < kNumDTypes; ++t) {
    if (!set.has(static_cast<DType>(t))) continue;
    if (!s.empty()) s += ' ';
    s += dtype_name(static_cast<DType>(t));
  }
  return s.empty() ? "none" : s;
}

// The kernel of the device the rule chose, after checking that it runs the call's dtype (the row's claim).
KernelFn kernel_for(const OpDef& def, std::span<const Tensor> in, const RuleResult& r) {
  const bool cuda = r.device.is_cuda();
  const KernelFn k = cuda ? def.cuda : def.cpu;
  if (!k) [[unlikely]]
    DS_FAIL(def.name, "has no {} kernel yet; run it on {}", cuda ? "CUDA" : "CPU", cuda ? "the CPU" : "a GPU");
  const size_t i = static_cast<size_t>(def.dtype_input);
  const DType dt = def.dtype_input >= 0 && i < in.size() && in[i].defined() ? in[i].dtype()
                   : r.outs.empty()                                         ? kF32
                                                                            : r.outs[0].dtype;
  const DTypeSet claimed = cuda ? def.cuda_dtypes : def.cpu_dtypes;
  if (!claimed.has(dt)) [[unlikely]]
    DS_FAIL(def.name, "does not support {} on {} (its {} kernel runs: {})", dtype_name(dt), r.device.str(),
            cuda ? "CUDA" : "CPU", dtypes_str(claimed));
  return k;
}

bool all_finite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype()) || t.numel() == 0) return true;
  const Tensor c = cast(t.is_cpu() ? t : t.to(kCPU), kF64);  // a fresh contiguous copy
  const double* p = static_cast<const double*>(c.data());
  for (int64_t i = 0; i < c.numel(); ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

// Anomaly mode: throws when this op made a non-finite value out of finite inputs.
void check_finite(const OpDef& def, std::span<const Tensor> in, std::span<const Tensor> outs) {
  DispatchState& st = dispatch_state();
  st.check_finite = false;  // the checks run ops themselves
  struct Restore {
    DispatchState& s;
    ~Restore() { s.check_finite = true; }
  } restore{st};
  for (size_t k = 0; k < outs.size(); ++k) {
    if (all_finite(outs[k])) continue;
    std::string shapes;
    for (const Tensor& t : in) {
      if (!all_finite(t)) return;  // not the first: a non-finite value came in
      shapes += (shapes.empty() ? "" : ", ") + (t.defined() ? shape_str(t.sizes()) : std::string("undefined"));
    }
    DS_FAIL(def.name, "produced a NaN or infinity in output {} from finite inputs ({}) (anomaly mode)", k, shapes);
  }
}

// Runs steps 1-4 of the choke point; `out`, when given, receives output 0 (in-place ops).
TensorList run(const OpDef& def, OpId op, std::span<const Tensor> inputs, const Attrs& attrs, Tensor* out) {
  if (attrs.schema() != def.attrs) [[unlikely]] wrong_attrs(def, attrs);
  RuleResult r;
  def.rule(OpCall{op, def.name, inputs, attrs}, r);

  TensorList casted;
  std::span<const Tensor> in = inputs;
  bool need_cast = false;
  for (size_t i = 0; i < r.casts.size(); ++i)
    need_cast |= r.casts[i].has_value() && inputs[i].defined() && inputs[i].dtype() != *r.casts[i];
  if (need_cast) {
    casted = TensorList(inputs);
    for (size_t i = 0; i < r.casts.size(); ++i)
      if (r.casts[i] && casted[i].defined() && casted[i].dtype() != *r.casts[i]) casted[i] = cast(casted[i], *r.casts[i]);
    in = casted;
  }

  const DispatchState& st = dispatch_state();
  DispatchHooks& hooks = dispatch_hooks();
  if (st.autocast && hooks.autocast && !out) {  // in-place ops keep their target's dtype
    if (!need_cast) casted = TensorList(in);
    if (hooks.autocast(def, op, casted)) {
      in = casted;
      r = RuleResult();
      def.rule(OpCall{op, def.name, in, attrs}, r);
    }
  }
  if (st.profiling && hooks.profile_begin) hooks.profile_begin(op);

  TensorList outs;
  if (st.substituting && hooks.substitute && hooks.substitute(def, op, in, r, out, outs)) [[unlikely]] {
    // The compiled graph before a graph break made these outputs already (graph/graph_break.h).
  } else if (def.kind == OpKind::View) {
    outs.push_back(make_view(in[0], r.view));
  } else if (r.device.is_meta()) [[unlikely]] {
    // The rule gave the outputs' metadata; there is nothing to compute.
    for (size_t i = 0; i < r.outs.size(); ++i)
      outs.push_back(i == 0 && out ? *out : Tensor(empty_base(r.outs[i].sizes, r.outs[i].dtype, kMeta)));
  } else {
    for (const Tensor& t : in)
      if (t.defined() && t.device().is_meta()) [[unlikely]]
        DS_FAIL(def.name, "would read a meta tensor ({} {}), which has no data, on {}; meta tensors only go "
                "through ops that run on meta", dtype_name(t.dtype()), shape_str(t.sizes()), r.device.str());
    for (size_t i = 0; i < r.outs.size(); ++i) {
      if (i == 0 && out) outs.push_back(*out);
      else outs.push_back(Tensor(empty_base(r.outs[i].sizes, r.outs[i].dtype, r.device)));
    }
    if (def.nondeterministic_cuda && r.device.is_cuda() && is_deterministic()) [[unlikely]]
      DS_FAIL(def.name, "has no deterministic CUDA kernel (it accumulates with atomics), and ds::set_deterministic(true) "
                        "is on; run it on the CPU or turn deterministic mode off");
    kernel_for(def, in, r)(KernelCtx{op, def.name, in, std::span<Tensor>(outs.data(), outs.size()), attrs});
  }
  if (st.profiling && hooks.profile_end) hooks.profile_end(op);
  if (st.check_finite && !r.device.is_meta()) [[unlikely]] check_finite(def, in, outs);
  if (st.tracing && hooks.trace) [[unlikely]]
    hooks.trace(def, op, in, attrs, std::span<const Tensor>(outs.data(), outs.size()), out);

  if (!out && def.vjp && is_grad_enabled() && any_requires_grad(in) && hooks.record)
    hooks.record(def, op, in, attrs, std::span<Tensor>(outs.data(), outs.size()));
  return outs;
}

bool same_geometry(const Tensor& a, const Tensor& b) {
  return a.storage_offset() == b.storage_offset() && a.sizes() == b.sizes() && a.strides() == b.strides();
}

}  // namespace

TensorList call_op(OpId op, std::span<const Tensor> inputs, const Attrs& attrs) {
  return run(op_def(op), op, inputs, attrs, nullptr);
}

Tensor call_op1(OpId op, std::span<const Tensor> inputs, const Attrs& attrs) {
  TensorList outs = run(op_def(op), op, inputs, attrs, nullptr);
  return std::move(outs[0]);
}

void call_op_inplace(OpId op, Tensor& self, std::span<const Tensor> inputs, const Attrs& attrs,
                     std::string_view name) {
  const OpDef& def = op_def(op);
  bool inputs_need_grad = false;
  for (const Tensor& t : inputs) inputs_need_grad |= t.defined() && t.requires_grad();
  if (is_grad_enabled() && (self.requires_grad() || inputs_need_grad)) {
    DS_CHECK(!(self.requires_grad() && self.is_leaf()), name,
             "a leaf tensor that requires grad ({}) cannot be modified in place while grad mode is on; modify it "
             "under ds::NoGradGuard or use the out-of-place op", shape_str(self.sizes()));
    DS_CHECK(!self.impl()->is_view(), name,
             "in-place modification of a view ({}) is not supported while autograd records it; use the out-of-place "
             "op", shape_str(self.sizes()));
    // Inputs aliasing self are cloned, so the node saves the values before they are overwritten.
    TensorList ins(inputs);
    for (Tensor& t : ins)
      if (t.defined() && t.impl()->storage() == self.impl()->storage()) t = t.clone();
    Tensor result = run(def, op, ins, attrs, nullptr)[0];
    DS_CHECK(result.sizes() == self.sizes(), name, "the result has shape {} but the tensor modified in place has {}",
             shape_str(result.sizes()), shape_str(self.sizes()));
    {
      NoGradGuard no_grad;
      Tensor src = result;
      call_op_inplace(OpId::copy, self, {&src, 1}, CopyAttrs{self.dtype()}, name);
    }
    dispatch_hooks().rebase(self, result);
    return;
  }

  RuleResult r;
  def.rule(OpCall{op, def.name, inputs, attrs}, r);
  DS_CHECK(!r.outs.empty() && r.outs[0].sizes == self.sizes(), name,
           "the result has shape {} but the tensor modified in place has {}",
           r.outs.empty() ? std::string("()") : shape_str(r.outs[0].sizes), shape_str(self.sizes()));
  DS_CHECK(r.device == self.device(), name, "the tensor modified in place is on {} but the op runs on {}",
           self.device().str(), r.device.str());
  bool direct = def.strided_out && r.outs[0].dtype == self.dtype();
  for (const Tensor& t : inputs)  // a partial overlap with an input would read values already overwritten
    if (direct && t.defined() && t.impl()->storage() == self.impl()->storage() && !same_geometry(t, self) &&
        t.numel() > 1)
      direct = false;
  if (direct) {
    run(def, op, inputs, attrs, &self);
  } else {
    DS_CHECK(can_cast(r.outs[0].dtype, self.dtype()), name,
             "the result type {} cannot be cast to the tensor's dtype {} in place", dtype_name(r.outs[0].dtype),
             dtype_name(self.dtype()));
    Tensor result = run(def, op, inputs, attrs, nullptr)[0];
    run(op_def(OpId::copy), OpId::copy, {&result, 1}, CopyAttrs{self.dtype()}, &self);
  }
  self.impl()->storage()->bump_version();
}

TensorList call_op_into(OpId op, const Tensor& out0, std::span<const Tensor> inputs, const Attrs& attrs) {
  const OpDef& def = op_def(op);
  DS_CHECK(!is_grad_enabled(), def.name, "writing into a given output records no autograd history; call it with grad "
           "mode off");
  DS_CHECK(def.kind == OpKind::Primitive && def.mutates == 0, def.name, "cannot write its output into a given tensor");
  RuleResult r;
  def.rule(OpCall{op, def.name, inputs, attrs}, r);
  DS_CHECK(!r.outs.empty() && r.outs[0].sizes == out0.sizes() && r.outs[0].dtype == out0.dtype() &&
           r.device == out0.device() && out0.is_contiguous(), def.name,
           "output 0 is {} {} on {}; the tensor given for it is {} {} on {}{}",
           r.outs.empty() ? std::string("none") : std::string(dtype_name(r.outs[0].dtype)),
           r.outs.empty() ? std::string() : shape_str(r.outs[0].sizes), r.device.str(), dtype_name(out0.dtype()),
           shape_str(out0.sizes()), out0.device().str(), out0.is_contiguous() ? "" : " (not contiguous)");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined() || t.impl()->storage() != out0.impl()->storage()) continue;
    DS_CHECK(same_geometry(t, out0) && (def.strided_out || (def.out_reuses_in >> i & 1u)), def.name,
             "input {} shares the storage of the tensor given for output 0, which the kernel does not allow", i);
  }
  Tensor out = alias_of(out0);  // a tensor of its own (not a view, whatever out0 was), as a fresh result would be
  TensorList outs = run(def, op, inputs, attrs, &out);
  out.impl()->storage()->bump_version();
  return outs;
}

void run_host_effect(const std::function<void()>& effect) {
  DispatchState& st = dispatch_state();
  if (st.substituting && dispatch_hooks().substitute_effect && dispatch_hooks().substitute_effect()) return;
  if (!st.tracing) {
    effect();
    return;
  }
  st.tracing = false;  // its own ops (if any) belong to the effect, not to the graph
  struct Restore {
    DispatchState& s;
    ~Restore() { s.tracing = true; }
  } restore{st};
  effect();
  if (dispatch_hooks().trace_host) dispatch_hooks().trace_host(effect);
}

Tensor wrap_scalar(Scalar s, Device device) {
  const DType dt = s.is_floating() ? kF64 : s.is_bool() ? kBool : kI64;
  Tensor t(empty_base({}, dt, kCPU));
  switch (dt) {
    case DType::f64: *t.data_ptr<double>() = s.to_double(); break;
    case DType::b8: *t.data_ptr<bool>() = s.to_int() != 0; break;
    default: *t.data_ptr<int64_t>() = s.to_int(); break;
  }
  if (device.is_cuda()) t = t.to(device);  // a meta op reads no value: the number stays on the CPU, as there
  t.impl()->set_wrapped_number(true);
  return t;
}

Tensor alias_of(const Tensor& t) {
  return Tensor(IntrusivePtr<TensorImpl>::make(t.impl()->storage(), t.dtype(), t.sizes(), t.strides(),
                                               t.storage_offset()));
}

}  // namespace ds
