// The backend of a world of one process: every collective is a local copy (or nothing), run at once on the
// caller's thread. No MPI is started.
#include <cstring>

#include <ds/core/detail/check.h>

#include "../flight_recorder.h"
#include "backend.h"
#include "self_backend.h"

namespace ds::dist::detail {
namespace {

class SelfComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce(void*, int64_t, DType, ReduceOp) override {}
  void broadcast(void*, int64_t, DType, int) override {}
  void reduce(void*, int64_t, DType, ReduceOp, int) override {}
  void allgather_v(const void* in, void* out, const std::vector<int64_t>& counts, DType dtype) override {
    copy(in, out, counts[0], dtype);
  }
  void reduce_scatter_v(const void* in, void* out, const std::vector<int64_t>& counts, DType dtype,
                        ReduceOp) override {
    copy(in, out, counts[0], dtype);
  }
  void all_to_all(const void* in, void* out, int64_t n, DType dtype) override { copy(in, out, n, dtype); }
  void send(const void*, int64_t, DType, int, int) override {
    DS_FAIL("send", "a process group of one rank has no peer to send to");
  }
  void recv(void*, int64_t, DType, int, int) override {
    DS_FAIL("recv", "a process group of one rank has no peer to receive from");
  }
  void barrier() override {}

 private:
  static void copy(const void* in, void* out, int64_t n, DType dtype) {
    if (in != out) std::memmove(out, in, static_cast<size_t>(n) * itemsize(dtype));
  }
};

class SelfBackend final : public Backend {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void enqueue(Collective c) override {
    Collective copy = c;
    enqueue_job(std::move(c), [copy](Comm& comm) { run_collective(comm, copy); });
  }
  void enqueue_job(Collective c, Job job) override {
    if (c.record_id) FlightRecorder::instance().started(c.record_id);
    std::exception_ptr error;
    try {
      SelfComm comm;
      job(comm);
    } catch (...) {
      error = std::current_exception();
    }
    if (c.record_id) FlightRecorder::instance().ended(c.record_id, !error);
    if (c.work) c.work->complete(error);
  }
  std::shared_ptr<Backend> split(int color, int, Timeout) override {
    return color < 0 ? nullptr : std::make_shared<SelfBackend>();
  }
};

}  // namespace

std::shared_ptr<Backend> self_backend() { return std::make_shared<SelfBackend>(); }

}  // namespace ds::dist::detail
