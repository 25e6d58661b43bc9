#pragma once
// Gradient checkpointing for whole models, the seed's `with ds.enable_gradient_checkpoint():`. Inside the scope of a
// GradientCheckpointGuard, every nn::Sequential that runs with grad mode on splits its children into segments and
// runs each segment but the last through ds::checkpoint: only the segments' inputs are kept, and each segment is
// recomputed during backward. An unmodified model built from Sequentials therefore trains with less memory and the
// same gradients.
//
//   { nn::GradientCheckpointGuard ckpt(4); loss = criterion(model(x), y); loss.backward(); }
//
// The guard is per thread and need only cover the forward pass: the recorded nodes keep what backward needs.
// Sequentials met while a segment is being run without grad or recomputed run plainly (no nested checkpoints); a
// Sequential in the last, plainly run segment checkpoints its own children. nn::BatchNorm asks
// ds::is_checkpoint_recomputing() and leaves its running statistics alone during the recomputation, so they are
// updated once per forward, as without checkpointing.
#include <cstdint>

#include <ds/autograd/checkpoint.h>
#include <ds/nn/container.h>

namespace ds::nn {

// segments > 0: that many segments of consecutive children (as torch's checkpoint_sequential); 0: each child its
// own segment.
class GradientCheckpointGuard {
 public:
  explicit GradientCheckpointGuard(int64_t segments = 0);
  ~GradientCheckpointGuard();
  GradientCheckpointGuard(const GradientCheckpointGuard&) = delete;
  GradientCheckpointGuard& operator=(const GradientCheckpointGuard&) = delete;

 private:
  bool prev_on_;
  int64_t prev_segments_;
};

// Whether a Sequential running now should checkpoint: a guard is active on this thread, grad mode is on, and no
// checkpoint is being recomputed.
bool gradient_checkpointing_applies();
// The segment count of the innermost guard.
int64_t gradient_checkpoint_segments();

// Runs seq's children on x in `segments` checkpointed segments (0: one per child); the last segment runs plainly,
// since its activations are needed at once by backward anyway.
Tensor checkpoint_sequential(const Sequential& seq, int64_t segments, const Tensor& x);

}  // namespace ds::nn
