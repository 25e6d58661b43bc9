#include <ds/nn/checkpoint.h>

#include <algorithm>

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>

namespace ds::nn {
namespace {
thread_local bool tls_on = false;
thread_local int64_t tls_segments = 0;

// Children [begin, end) of seq applied in order; the modules are held by value so the recorded node keeps them.
CheckpointFn segment_fn(const Sequential& seq, size_t begin, size_t end) {
  std::vector<std::shared_ptr<Module>> mods;
  for (size_t i = begin; i < end; ++i) mods.push_back(seq[i]);
  return [mods = std::move(mods)](const std::vector<Tensor>& in) {
    Tensor y = in[0];
    for (const auto& m : mods) y = (*m)(y);
    return std::vector<Tensor>{y};
  };
}
}  // namespace

GradientCheckpointGuard::GradientCheckpointGuard(int64_t segments) : prev_on_(tls_on), prev_segments_(tls_segments) {
  DS_CHECK(segments >= 0, "GradientCheckpointGuard", "segments must be >= 0 (0: one per child), got {}", segments);
  tls_on = true;
  tls_segments = segments;
}

GradientCheckpointGuard::~GradientCheckpointGuard() {
  tls_on = prev_on_;
  tls_segments = prev_segments_;
}

bool gradient_checkpointing_applies() { return tls_on && is_grad_enabled() && !is_checkpoint_recomputing(); }
int64_t gradient_checkpoint_segments() { return tls_segments; }

Tensor checkpoint_sequential(const Sequential& seq, int64_t segments, const Tensor& x) {
  DS_CHECK(segments >= 0, "checkpoint_sequential", "segments must be >= 0 (0: one per child), got {}", segments);
  const size_t n = seq.size();
  if (n == 0) return x;
  const size_t s = segments == 0 ? n : std::min(n, static_cast<size_t>(segments));
  Tensor y = x;
  for (size_t k = 0; k < s; ++k) {
    // Segment k holds children [n*k/s, n*(k+1)/s): sizes differ by at most one.
    const size_t begin = n * k / s, end = n * (k + 1) / s;
    CheckpointFn fn = segment_fn(seq, begin, end);
    y = k + 1 < s ? checkpoint(fn, {y})[0] : fn({y})[0];
  }
  return y;
}

}  // namespace ds::nn
