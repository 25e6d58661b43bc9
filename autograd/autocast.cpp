// Autocast: the per-op dtype policy and the dispatcher hook that applies it.
#include "autocast.h"

#include <vector>

#include <ds/core/detail/check.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/shape_ops.h>

namespace ds {

namespace {

thread_local DType tls_dtype = kBF16;

// The policy is the row's autocast class (ops/defs/: matmul and conv2d low precision; sums, exp/log, powers, roots,
// layer norm and cross entropy f32).
bool autocast_hook(const OpDef& def, OpId, TensorList& inputs) {
  const AutocastClass p = def.autocast;
  if (p == AutocastClass::Passthrough) return false;
  const DType target = p == AutocastClass::LowPrecision ? tls_dtype : kF32;
  bool changed = false;
  for (Tensor& t : inputs) {
    if (!t.defined()) continue;
    const DType d = t.dtype();
    if (d == target || !is_floating(d) || d == kF64) continue;
    if (p == AutocastClass::F32 && !is_reduced_float(d)) continue;
    t = to(t, target);  // a differentiable copy op (itself passthrough)
    changed = true;
  }
  return changed;
}

[[maybe_unused]] const bool g_installed = [] {
  dispatch_hooks().autocast = &autocast_hook;
  return true;
}();

}  // namespace

AutocastGuard::AutocastGuard(DType dtype, bool enabled)
    : prev_enabled_(dispatch_state().autocast), prev_dtype_(tls_dtype) {
  DS_CHECK(dtype == kBF16 || dtype == kF16, "autocast", "the low-precision dtype must be bf16 or f16, got {}",
           dtype_name(dtype));
  dispatch_state().autocast = enabled;
  if (enabled) tls_dtype = dtype;
}

AutocastGuard::AutocastGuard(Device device, bool enabled) : AutocastGuard(device.is_cuda() ? kF16 : kBF16, enabled) {}

AutocastGuard::~AutocastGuard() {
  dispatch_state().autocast = prev_enabled_;
  tls_dtype = prev_dtype_;
}

bool is_autocast_enabled() { return dispatch_state().autocast; }
DType autocast_dtype() { return tls_dtype; }

namespace {
std::vector<std::string_view> ops_of_class(AutocastClass c) {
  std::vector<std::string_view> names;
  for (const OpDef* def : primitive_defs())
    if (def->autocast == c) names.push_back(def->name);
  return names;
}
}  // namespace

std::vector<std::string_view> autocast_low_precision_ops() { return ops_of_class(AutocastClass::LowPrecision); }
std::vector<std::string_view> autocast_f32_ops() { return ops_of_class(AutocastClass::F32); }

}  // namespace ds
