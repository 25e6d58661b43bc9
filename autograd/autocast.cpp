// Autocast: the per-op dtype policy and the dispatcher hook that applies it.
#include "autocast.h"

#include <vector>

#include <ds/core/detail/check.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/shape_ops.h>

namespace ds {

namespace {

// The policy's categories, in one place.
// Low precision: the ops whose cost dominates and which tensor cores / bf16 units run fast and accurately enough
// (they accumulate in f32 inside the kernels).
constexpr std::string_view kLowPrecisionOps[] = {"matmul", "conv2d", "conv2d_input_grad", "conv2d_weight_grad"};
// f32: ops whose results overflow or lose too much precision in f16/bf16: long accumulations (sum, prod, cumsum),
// exponentials and logarithms (softmax, log_softmax, cross entropy, softplus are composites of these), powers and
// (reciprocal) square roots (norms, variances, layer/batch/group norm).
constexpr std::string_view kF32Ops[] = {"sum", "prod",       "cumsum", "exp",   "expm1",     "log",
                                        "log1p", "pow", "pow_scalar", "sqrt", "rsqrt", "reciprocal",
                                        "layer_norm", "softmax_cross_entropy"};

enum class Policy : uint8_t { Passthrough, LowPrecision, F32 };

thread_local DType tls_dtype = kBF16;

// Policy by OpId, built once from the names (an unknown name is an error at first use).
const std::vector<Policy>& policy_table() {
  static const std::vector<Policy> table = [] {
    const auto defs = primitive_defs();
    std::vector<Policy> t(defs.size(), Policy::Passthrough);
    auto mark = [&](std::span<const std::string_view> names, Policy p) {
      for (std::string_view name : names) {
        bool found = false;
        for (size_t i = 0; i < defs.size(); ++i)
          if (defs[i]->name == name) {
            t[i] = p;
            found = true;
          }
        DS_CHECK(found, "autocast", "the policy names '{}', which is not a primitive op", name);
      }
    };
    mark(kLowPrecisionOps, Policy::LowPrecision);
    mark(kF32Ops, Policy::F32);
    return t;
  }();
  return table;
}

bool autocast_hook(const OpDef&, OpId op, TensorList& inputs) {
  const auto& table = policy_table();
  const size_t index = static_cast<size_t>(op);
  const Policy p = index < table.size() ? table[index] : Policy::Passthrough;
  if (p == Policy::Passthrough) return false;
  const DType target = p == Policy::LowPrecision ? tls_dtype : kF32;
  bool changed = false;
  for (Tensor& t : inputs) {
    if (!t.defined()) continue;
    const DType d = t.dtype();
    if (d == target || !is_floating(d) || d == kF64) continue;
    if (p == Policy::F32 && !is_reduced_float(d)) continue;
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
  policy_table();  // validate the names before the first op
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

std::span<const std::string_view> autocast_low_precision_ops() { return kLowPrecisionOps; }
std::span<const std::string_view> autocast_f32_ops() { return kF32Ops; }

}  // namespace ds
