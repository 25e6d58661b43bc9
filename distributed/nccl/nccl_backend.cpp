// The NCCL backend: CUDA tensors of a process group over one NCCL communicator per group and device, whose unique
// id rank 0 broadcasts over the group's CPU (MPI) backend. Collectives run on the backend's own stream after the
// caller's current stream (an event orders them), and the caller's stream waits for their end, so ops that follow
// on it see the results without a host synchronisation. A watcher thread completes each Work when its event has
// fired, and registers it with the watchdog meanwhile; a fault aborts the communicator (ncclCommAbort).
#include <cuda_runtime.h>
#include <nccl.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <ds/core/detail/check.h>
#include <ds/ops/cuda/stream.h>
#include <ds/ops/factory.h>

#include "../detail/nccl.h"
#include "../flight_recorder.h"
#include "../process_group.h"
#include "../watchdog.h"

namespace ds::dist::detail {
namespace {

void check_nccl(ncclResult_t rc, const char* call, const std::string& what) {
  DS_CHECK(rc == ncclSuccess || rc == ncclInProgress, "dist", "{} failed in {}: {}", call, what,
           ncclGetErrorString(rc));
}

ncclDataType_t nccl_type(DType dt) {
  switch (dt) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::f16: return ncclFloat16;
    case DType::bf16: return ncclBfloat16;
    case DType::i64: return ncclInt64;
    case DType::i32: return ncclInt32;
    case DType::i8: return ncclInt8;
    case DType::u8:
    case DType::b8: return ncclUint8;
  }
  return ncclUint8;
}

ncclRedOp_t nccl_op(DType dt, ReduceOp op) {
  if (dt == kBool) return op == ReduceOp::kMin ? ncclMin : ncclMax;  // or / and on 0/1 bytes
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kAvg: return ncclAvg;
    case ReduceOp::kMax: return ncclMax;
    case ReduceOp::kMin: return ncclMin;
  }
  return ncclSum;
}

size_t bytes_of(int64_t n, DType dt) { return static_cast<size_t>(n) * itemsize(dt); }

struct InFlight {
  Collective c;
  std::unique_ptr<cuda::Event> done;
  uint64_t watchdog_id = 0;
};

class NcclBackend final : public Backend {
 public:
  NcclBackend(ProcessGroup& group, Device device) : device_(device.index), rank_(group.rank()), size_(group.size()) {
    // Rank 0's unique id to everyone, over the group's CPU collectives.
    ncclUniqueId id;
    if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId", group.name());
    Tensor bytes = empty({static_cast<int64_t>(sizeof id)}, {.dtype = kU8});
    std::memcpy(bytes.data(), &id, sizeof id);
    group.broadcast(bytes, 0)->wait();
    std::memcpy(&id, bytes.data(), sizeof id);
    cuda::DeviceGuard guard(device_);
    check_nccl(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank", group.name());
    stream_ = std::make_unique<cuda::Stream>(device_);
    ncclComm_t comm = comm_;
    Watchdog::instance().add_abort_handler([comm](int) { ncclCommAbort(comm); });
    watcher_ = std::thread([this] { watch(); });
  }
  ~NcclBackend() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    ncclCommDestroy(comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void enqueue(Collective c) override {
    cuda::DeviceGuard guard(device_);
    const cudaStream_t caller = cuda::current_stream(device_);
    cudaStream_t s = stream_->handle();
    cuda::Event ready(device_);
    ready.record(caller);
    ready.wait(s);
    if (c.record_id) FlightRecorder::instance().started(c.record_id);
    const uint64_t wd = Watchdog::instance().begin(c.description, c.timeout);
    try {
      launch(c, s);
    } catch (...) {
      Watchdog::instance().end(wd);
      if (c.record_id) FlightRecorder::instance().ended(c.record_id, false);
      c.work->complete(std::current_exception());
      return;
    }
    auto done = std::make_unique<cuda::Event>(device_);
    done->record(s);
    done->wait(caller);  // the caller's later work sees the result
    if (c.bytes_counter) c.bytes_counter->fetch_add(wire_bytes(c), std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    pending_.push_back({std::move(c), std::move(done), wd});
    cv_.notify_all();
  }

  void enqueue_job(Collective c, Job) override {
    DS_FAIL("dist", "{}: multi-step jobs (gradient compression) run on CPU tensors only; CUDA gradients use the "
            "plain allreduce hook", c.description);
  }
  std::shared_ptr<Backend> split(int, int, Timeout) override {
    DS_FAIL("dist", "NCCL communicators are made per group at its first CUDA collective, not split");
  }

 private:
  void launch(const Collective& c, cudaStream_t s) {
    const std::string& what = c.description;
    const DType dt = (c.in.defined() ? c.in : c.out).dtype();
    if (c.op == ReduceOp::kAvg)
      DS_CHECK(is_floating(dt), "dist", "{}: avg needs a floating dtype", what);
    const auto n = [](const Tensor& t) { return static_cast<size_t>(t.numel()); };
    switch (c.kind) {
      case OpKind::kAllreduce:
        check_nccl(ncclAllReduce(c.out.data(), c.out.data(), n(c.out), nccl_type(dt), nccl_op(dt, c.op), comm_, s),
                   "ncclAllReduce", what);
        return;
      case OpKind::kBroadcast:
        check_nccl(ncclBroadcast(c.out.data(), c.out.data(), n(c.out), nccl_type(dt), c.peer, comm_, s),
                   "ncclBroadcast", what);
        return;
      case OpKind::kReduce:
        check_nccl(ncclReduce(c.out.data(), c.out.data(), n(c.out), nccl_type(dt), nccl_op(dt, c.op), c.peer, comm_,
                              s),
                   "ncclReduce", what);
        return;
      case OpKind::kAllgather:
        check_nccl(ncclAllGather(c.in.data(), c.out.data(), n(c.in), nccl_type(dt), comm_, s), "ncclAllGather", what);
        return;
      case OpKind::kReduceScatter:
        check_nccl(ncclReduceScatter(c.in.data(), c.out.data(), n(c.out), nccl_type(dt), nccl_op(dt, c.op), comm_, s),
                   "ncclReduceScatter", what);
        return;
      case OpKind::kAllgatherV: {  // one broadcast per rank, grouped
        check_nccl(ncclGroupStart(), "ncclGroupStart", what);
        size_t off = 0;
        for (int r = 0; r < size_; ++r) {
          const size_t cnt = static_cast<size_t>(c.counts[static_cast<size_t>(r)]);
          auto* dst = static_cast<char*>(c.out.data()) + bytes_of(static_cast<int64_t>(off), dt);
          check_nccl(ncclBroadcast(r == rank_ ? c.in.data() : dst, dst, cnt, nccl_type(dt), r, comm_, s),
                     "ncclBroadcast", what);
          off += cnt;
        }
        check_nccl(ncclGroupEnd(), "ncclGroupEnd", what);
        return;
      }
      case OpKind::kReduceScatterV: {  // one reduce per rank, grouped
        DS_CHECK(c.op != ReduceOp::kAvg, "dist", "{}: reduce_scatter_v with avg is not supported on NCCL", what);
        check_nccl(ncclGroupStart(), "ncclGroupStart", what);
        size_t off = 0;
        for (int r = 0; r < size_; ++r) {
          const size_t cnt = static_cast<size_t>(c.counts[static_cast<size_t>(r)]);
          const auto* src = static_cast<const char*>(c.in.data()) + bytes_of(static_cast<int64_t>(off), dt);
          check_nccl(ncclReduce(src, c.out.data(), cnt, nccl_type(dt), nccl_op(dt, c.op), r, comm_, s), "ncclReduce",
                     what);
          off += cnt;
        }
        check_nccl(ncclGroupEnd(), "ncclGroupEnd", what);
        return;
      }
      case OpKind::kAllToAll: {
        const size_t cnt = n(c.in) / static_cast<size_t>(size_);
        check_nccl(ncclGroupStart(), "ncclGroupStart", what);
        for (int r = 0; r < size_; ++r) {
          const size_t off = bytes_of(static_cast<int64_t>(cnt) * r, dt);
          check_nccl(ncclSend(static_cast<const char*>(c.in.data()) + off, cnt, nccl_type(dt), r, comm_, s), "ncclSend",
                     what);
          check_nccl(ncclRecv(static_cast<char*>(c.out.data()) + off, cnt, nccl_type(dt), r, comm_, s), "ncclRecv",
                     what);
        }
        check_nccl(ncclGroupEnd(), "ncclGroupEnd", what);
        return;
      }
      case OpKind::kSend:
        DS_CHECK(c.tag == 0, "dist", "{}: NCCL point-to-point has no tags (use tag 0)", what);
        check_nccl(ncclSend(c.in.data(), n(c.in), nccl_type(dt), c.peer, comm_, s), "ncclSend", what);
        return;
      case OpKind::kRecv:
        DS_CHECK(c.tag == 0, "dist", "{}: NCCL point-to-point has no tags (use tag 0)", what);
        check_nccl(ncclRecv(c.out.data(), n(c.out), nccl_type(dt), c.peer, comm_, s), "ncclRecv", what);
        return;
      case OpKind::kBarrier: {
        if (!barrier_.defined()) barrier_ = zeros({1}, {.device = Device(DeviceType::CUDA, device_)});
        check_nccl(ncclAllReduce(barrier_.data(), barrier_.data(), 1, ncclFloat32, ncclSum, comm_, s), "ncclAllReduce",
                   what);
        return;
      }
      case OpKind::kSplit:
      case OpKind::kJob: DS_FAIL("dist", "{} is not a collective", op_kind_name(c.kind));
    }
  }

  uint64_t wire_bytes(const Collective& c) const {
    const Tensor& t = c.in.defined() ? c.in : c.out;
    if (!t.defined()) return 0;
    const double b = static_cast<double>(t.nbytes()), f = static_cast<double>(size_ - 1) / size_;
    switch (c.kind) {
      case OpKind::kAllreduce: return static_cast<uint64_t>(2 * f * b);
      case OpKind::kAllgather:
      case OpKind::kAllgatherV: return static_cast<uint64_t>(f * static_cast<double>(c.out.nbytes()));
      case OpKind::kSend: return static_cast<uint64_t>(b);
      case OpKind::kRecv:
      case OpKind::kBarrier:
      case OpKind::kSplit:
      case OpKind::kJob: return 0;
      case OpKind::kBroadcast:
      case OpKind::kReduce:
      case OpKind::kReduceScatter:
      case OpKind::kReduceScatterV:
      case OpKind::kAllToAll: return static_cast<uint64_t>(f * b);
    }
    return 0;
  }

  // Completes works in order as their events fire; checks the communicator for asynchronous errors.
  void watch() {
    for (;;) {
      InFlight item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) return;
        item = std::move(pending_.front());
        pending_.pop_front();
      }
      while (!item.done->query()) {
        ncclResult_t async = ncclSuccess;
        ncclCommGetAsyncError(comm_, &async);
        if (async != ncclSuccess && async != ncclInProgress)
          Watchdog::instance().fault(fmt::format("NCCL reported an asynchronous error in {}: {}",
                                                 item.c.description, ncclGetErrorString(async)));
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      Watchdog::instance().end(item.watchdog_id);
      if (item.c.record_id) FlightRecorder::instance().ended(item.c.record_id, true);
      item.c.work->complete();
    }
  }

  int device_, rank_, size_;
  ncclComm_t comm_ = nullptr;
  std::unique_ptr<cuda::Stream> stream_;
  Tensor barrier_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<InFlight> pending_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace

std::shared_ptr<Backend> make_nccl_backend(ProcessGroup& group, Device device) {
  DS_CHECK(device.is_cuda(), "dist", "NCCL communicates CUDA tensors, not {}", device.str());
  return std::make_shared<NcclBackend>(group, device);
}

bool nccl_built() { return true; }

}  // namespace ds::dist::detail
