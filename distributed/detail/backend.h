#pragma once
// The interface between ProcessGroup and its transports (internal). A backend runs jobs in the order they are
// queued, one at a time, on its communication thread (MPI) or stream (NCCL), and completes each job's Work.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ds/distributed/types.h>
#include <ds/distributed/work.h>
#include <ds/ops/tensor.h>

namespace ds::dist::detail {

enum class OpKind : uint8_t {
  kAllreduce, kBroadcast, kReduce, kAllgather, kAllgatherV, kReduceScatter, kReduceScatterV, kAllToAll, kSend, kRecv,
  kBarrier, kSplit, kJob
};
std::string_view op_kind_name(OpKind k);

// One collective, as checked by ProcessGroup. in/out are contiguous tensors (the same tensor for in-place ops).
struct Collective {
  OpKind kind = OpKind::kBarrier;
  ReduceOp op = ReduceOp::kSum;
  int peer = 0;  // root (broadcast, reduce) or the other rank (send, recv), a group rank
  int tag = 0;
  Tensor in, out;
  std::vector<int64_t> counts;  // elements per rank (the _v variants)
  uint64_t seq = 0;             // the group's sequence number
  std::string description;      // for errors, the watchdog and the flight recorder
  Timeout timeout{0};
  WorkPtr work;
  uint64_t record_id = 0;                          // the flight recorder's entry
  std::atomic<uint64_t>* bytes_counter = nullptr;  // the group's bytes_sent
};

// Raw, blocking collectives over host memory, for jobs running on a CPU backend's communication thread. Counts
// are elements of dtype; the calling thread waits (yielding the CPU) until the operation is done.
class Comm {
 public:
  virtual ~Comm() = default;
  // Where the bytes this comm sends are counted (set for each job; see ProcessGroup::bytes_sent).
  std::atomic<uint64_t>* bytes = nullptr;
  void count(double b) {
    if (bytes) bytes->fetch_add(static_cast<uint64_t>(b), std::memory_order_relaxed);
  }
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual void allreduce(void* buf, int64_t n, DType dtype, ReduceOp op) = 0;
  virtual void broadcast(void* buf, int64_t n, DType dtype, int root) = 0;
  virtual void reduce(void* buf, int64_t n, DType dtype, ReduceOp op, int root) = 0;
  // out holds counts[r] elements from each rank r in rank order (counts.size() == size()).
  virtual void allgather_v(const void* in, void* out, const std::vector<int64_t>& counts, DType dtype) = 0;
  // out = op over the ranks' block rank() of in (blocks of counts[r] elements in rank order).
  virtual void reduce_scatter_v(const void* in, void* out, const std::vector<int64_t>& counts, DType dtype,
                                ReduceOp op) = 0;
  virtual void all_to_all(const void* in, void* out, int64_t n_per_rank, DType dtype) = 0;
  virtual void send(const void* buf, int64_t n, DType dtype, int dst, int tag) = 0;
  virtual void recv(void* buf, int64_t n, DType dtype, int src, int tag) = 0;
  virtual void barrier() = 0;
};

// A job: code run on the communication thread with the group's Comm (several collectives and the host compute
// between them, e.g. int8 compression's reduce-scatter, re-quantisation and all-gather). Jobs of one process run
// one at a time, in the order queued, so their collectives line up across ranks.
using Job = std::function<void(Comm&)>;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Queues the collective; its Work completes when it has run (with the error, if it failed).
  virtual void enqueue(Collective c) = 0;
  // Queues a job (CPU backends; NCCL refuses with an error). `c` carries the description, timeout and Work.
  virtual void enqueue_job(Collective c, Job job) = 0;
  // A backend over the members of this one with the same color (ordered by key, then rank); null for a negative
  // color. Collective over this backend's members; blocks until done.
  virtual std::shared_ptr<Backend> split(int color, int key, Timeout timeout) = 0;
};

// Runs c with the raw collectives of comm (the shared body of the CPU backends): checks nothing, divides for kAvg.
void run_collective(Comm& comm, const Collective& c);

// With DS_DIST_DEBUG=1: every member exchanges what it is about to run (op, sequence number, dtype, shape, root)
// and a mismatch ends the run with both sides printed. Backends call it before each job.
void check_matching(Comm& comm, const Collective& c);

// Divides n elements of a floating dtype by d in place (kAvg after a sum).
void divide_in_place(void* buf, int64_t n, DType dtype, double d);

}  // namespace ds::dist::detail
