#pragma once
// Communication hooks: how DistributedDataParallel reduces a bucket of gradients (torch's DDP comm hooks), chosen per
// run. Each averages the bucket over the group; the compressed ones put fewer bytes on the wire.
//
// - allreduce (the default): the mean in the gradients' dtype.
// - fp16 / bf16: the ranks agree on a power-of-two scale from the largest |gradient| (one tiny allreduce), so that
//   the sum of N scaled values fits the 16-bit range without overflow and keeps small values away from f16's
//   subnormals; the scaled bucket is cast, summed in 16 bits, cast back and unscaled. Half the bytes of f32.
// - int8: a reduce-scatter + all-gather scheme with error feedback. Each rank adds its residual (what quantisation
//   lost last step) to its gradient, quantises it per chunk of 256 values (one f32 scale per chunk) and sends block
//   j to rank j (all-to-all); rank j dequantises, averages, adds its own residual of the averaged block, quantises
//   again and all-gathers the blocks. About a quarter of the bytes of f32 (2 (N-1)/N of the bucket in int8 plus the
//   scales). A plain int8 allreduce would overflow its 8-bit sums; an all-gather of everything would send N/8 of
//   the f32 bytes.
// A non-finite gradient on any rank makes the reduced bucket non-finite on every rank, so every rank skips that
// step together.
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <ds/distributed/process_group.h>

namespace ds::dist {

class CommHook {
 public:
  virtual ~CommHook() = default;
  // "allreduce", "fp16", "bf16", "int8".
  virtual std::string name() const = 0;
  // Starts averaging `grad` (the bucket's flat, contiguous gradient) over the group; when the returned Work has
  // completed, `grad` holds the result. `bucket` identifies the bucket across steps (for per-bucket state).
  virtual WorkPtr reduce(ProcessGroup& group, int bucket, const Tensor& grad) = 0;
};

std::shared_ptr<CommHook> allreduce_hook();
// dtype: kF16 or kBF16.
std::shared_ptr<CommHook> half_compression_hook(DType dtype);
// chunk: values per scale.
std::shared_ptr<CommHook> int8_compression_hook(int64_t chunk = 256);
// By name: "none" or "allreduce", "fp16" (also "fp16_quantize", the seed's name), "bf16", "int8"; another name is
// an error listing these.
std::shared_ptr<CommHook> comm_hook_by_name(const std::string& name);

}  // namespace ds::dist
