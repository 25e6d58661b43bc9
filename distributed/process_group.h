#pragma once
// ProcessGroup: a set of processes (ranks) and the collectives among them, as torch.distributed's ProcessGroup.
//
// Every collective is asynchronous: it checks its arguments at once (errors name the op, the group and the
// offending shapes and dtypes), numbers itself in the group's sequence, records itself in the flight recorder
// (flight_recorder.h) and returns a Work; CPU tensors are communicated over MPI on the process's communication
// thread, CUDA tensors over NCCL on the group's stream. Tensors are handles: the collective reads and writes their
// memory, which must stay untouched until the Work completes (the Work keeps the tensors alive). Tensors must be
// contiguous. Ranks (root, src, dst) are ranks within the group.
//
// Every member must call the group's collectives in the same order with matching arguments, as with MPI and NCCL.
// DS_DIST_DEBUG=1 checks that before each collective (op, dtype, shape, root) and ends the run with both sides
// printed when they differ. A collective that does not complete within the group's timeout ends every rank with the
// flight recorder's history (watchdog.h).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ds/distributed/types.h>
#include <ds/distributed/work.h>
#include <ds/ops/tensor.h>

namespace ds::dist {

namespace detail {
class Backend;
class Comm;
struct Collective;
}  // namespace detail

class ProcessGroup {
 public:
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  // This process's rank in the group, and the number of members.
  int rank() const { return rank_; }
  int size() const { return static_cast<int>(world_ranks_.size()); }
  // The world rank of each member, in group rank order.
  const std::vector<int>& world_ranks() const { return world_ranks_; }
  // "world", or the name given at creation ("dp", "tp.0", ...): how errors and the flight recorder call it.
  const std::string& name() const { return name_; }
  Timeout timeout() const { return timeout_; }
  void set_timeout(Timeout timeout) { timeout_ = timeout; }

  // ---- collectives (all asynchronous; see above)
  // t = op over the ranks' t, on every rank.
  WorkPtr allreduce(const Tensor& t, ReduceOp op = ReduceOp::kSum);
  // t = root's t, on every rank.
  WorkPtr broadcast(const Tensor& t, int root);
  // On root, t = op over the ranks' t; elsewhere t is left as it was.
  WorkPtr reduce(const Tensor& t, int root, ReduceOp op = ReduceOp::kSum);
  // out (size() * in.numel() elements, e.g. (size * n, ...) or (size, n, ...)) = every rank's `in`, in rank order.
  WorkPtr allgather(const Tensor& out, const Tensor& in);
  // As allgather with counts[r] elements from rank r (in.numel() == counts[rank()], out.numel() == sum of counts).
  WorkPtr allgather_v(const Tensor& out, const Tensor& in, std::vector<int64_t> counts);
  // out (n elements) = op over the ranks' block rank() of `in` (size() * n elements, blocks in rank order).
  WorkPtr reduce_scatter(const Tensor& out, const Tensor& in, ReduceOp op = ReduceOp::kSum);
  // As reduce_scatter with block r of counts[r] elements (out.numel() == counts[rank()]).
  WorkPtr reduce_scatter_v(const Tensor& out, const Tensor& in, std::vector<int64_t> counts,
                           ReduceOp op = ReduceOp::kSum);
  // Block j of `in` (size() equal blocks) goes to rank j; block j of `out` comes from rank j.
  WorkPtr all_to_all(const Tensor& out, const Tensor& in);
  // Point to point: a send to dst matches the recv from this rank with the same tag, in order.
  WorkPtr send(const Tensor& t, int dst, int tag = 0);
  WorkPtr recv(const Tensor& t, int src, int tag = 0);
  WorkPtr barrier();

  // ---- groups
  // A subgroup of this group's `ranks` (group ranks, any order: the new group's rank i is ranks[i]). Collective:
  // every member of this group calls it with the same ranks; non-members get null.
  std::shared_ptr<ProcessGroup> new_group(const std::vector<int>& ranks, const std::string& name = "");
  // Splits this group by color (as MPI_Comm_split): members with the same color form a group, ordered by key then
  // by rank. Collective; every member gets its own group (a negative color: none, null).
  std::shared_ptr<ProcessGroup> split(int color, int key, const std::string& name);

  // ---- accounting
  // Bytes this rank sent through the group's collectives since creation (or reset), counted as a bandwidth-optimal
  // algorithm sends them (ring allreduce: 2 (N-1)/N of the tensor; allgather: (N-1) times the input; ...), so
  // compressed and uncompressed runs compare by the bytes their algorithms put on the wire.
  uint64_t bytes_sent() const { return bytes_sent_.load(std::memory_order_relaxed); }
  void reset_bytes_sent() { bytes_sent_.store(0, std::memory_order_relaxed); }
  // Collectives issued so far (the next one's sequence number).
  uint64_t sequence() const { return seq_; }

  // ---- for the library's own multi-step operations (gradient compression): runs job on the communication thread
  // as one entry of this group's sequence, with the raw collectives of detail::Comm; `t` (the tensor the job works
  // on) describes it in the flight recorder and the debug check. CPU tensors only.
  WorkPtr run_job(const std::string& name, const Tensor& t, std::function<void(detail::Comm&)> job);

  // ---- for the library: a group over backends made by init_process_group / new_group.
  ProcessGroup(std::string name, int rank, std::vector<int> world_ranks, std::shared_ptr<detail::Backend> cpu,
               Timeout timeout);
  detail::Backend& cpu_backend() const { return *cpu_; }

 private:
  WorkPtr submit(detail::Collective& c);
  detail::Backend& backend_for(const Tensor& t, const char* op);

  std::string name_;
  int rank_;
  std::vector<int> world_ranks_;
  std::shared_ptr<detail::Backend> cpu_;   // MPI, or the single-process backend
  std::shared_ptr<detail::Backend> cuda_;  // NCCL, made at the group's first CUDA collective
  Timeout timeout_;
  uint64_t seq_ = 0;
  std::atomic<uint64_t> bytes_sent_{0};
};

using ProcessGroupPtr = std::shared_ptr<ProcessGroup>;

}  // namespace ds::dist
