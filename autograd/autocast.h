#pragma once
// Autocast (mixed precision, torch.autocast): while an AutocastGuard is active on a thread, every op of that thread
// picks its compute dtype by the autocast class its row declares (ops/op_def.h; listed by autocast_low_precision_ops
// and autocast_f32_ops below):
//   - matmul and conv2d (and conv2d's two backward halves) run in the low-precision dtype (bf16 by default, f16
//     allowed): their f32 (or other reduced-float) inputs are cast down;
//   - ops that need f32 range or precision (sums and products, exp/log, pow, rsqrt/sqrt/reciprocal: the pieces of
//     softmax, norms and losses, which are composites built from these) get their f16/bf16 inputs cast up to f32;
//   - every other op runs in whatever dtype it is given.
// f64 tensors are never cast, and in-place ops are never autocast (they keep their target's dtype). The casts are
// ordinary ds ops (copy), recorded by autograd, so gradients flow back in f32 to f32 master weights.
// The policy hooks into step 3 of the dispatcher (ops/dispatch.h); the state is per thread.
#include <span>
#include <string_view>
#include <vector>

#include <ds/core/device.h>
#include <ds/core/dtype.h>

namespace ds {

class AutocastGuard {
 public:
  // Enables autocast with low-precision dtype `dtype` (kBF16 or kF16) on this thread, or disables it inside the
  // scope when `enabled` is false. The previous state is restored on destruction.
  explicit AutocastGuard(DType dtype = kBF16, bool enabled = true);
  // torch.autocast(device_type): bf16 for the CPU, f16 for CUDA.
  explicit AutocastGuard(Device device, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool prev_enabled_;
  DType prev_dtype_;
};

// Whether autocast is on for this thread, and its low-precision dtype.
bool is_autocast_enabled();
DType autocast_dtype();

// The primitives of each class, from the rows.
std::vector<std::string_view> autocast_low_precision_ops();
std::vector<std::string_view> autocast_f32_ops();

}  // namespace ds
