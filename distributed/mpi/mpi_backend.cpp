// The MPI backend: raw collectives over an MPI communicator (nonblocking MPI calls polled with backoff, so an idle
// rank leaves its core to others), the communication thread that runs jobs in order, and MPI's lifetime.
#include "mpi_backend.h"

#include <mpi.h>

#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>

#include <ds/core/detail/check.h>

#include "../flight_recorder.h"
#include "../watchdog.h"
#include "mpi_types.h"

namespace ds::dist::detail {
namespace {

void check_mpi(int rc, const char* call, const std::string& where) {
  if (rc == MPI_SUCCESS) [[likely]] return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  DS_FAIL("dist", "{} failed in {}: {}", call, where, std::string(msg, static_cast<size_t>(len)));
}

int to_int_count(int64_t n, const char* op) {
  DS_CHECK(n >= 0 && n <= std::numeric_limits<int>::max(), op,
           "{} elements in one MPI call; MPI counts are ints (at most 2^31 - 1): split the tensor", n);
  return static_cast<int>(n);
}

// Waits for a request with MPI_Test: spins briefly (small messages finish in microseconds), then sleeps with
// exponential backoff, so that a waiting rank yields its core. Progress of nonblocking MPI happens only inside
// MPI_Test, and a large message moves in many fragments that each need a call: for the first 0.5 s the sleeps stay
// under 20 us (a 25 MB allreduce was 2.5x slower with 200 us sleeps), then they grow to DS_DIST_POLL_MAX_US
// (default 200 us) for a rank that is waiting for a slow peer.
void wait_request(MPI_Request& req, const char* call, const std::string& where) {
  static const long max_us = [] {
    const char* s = std::getenv("DS_DIST_POLL_MAX_US");
    const long v = s ? std::strtol(s, nullptr, 10) : 200;
    return v > 0 ? v : 200;
  }();
  const auto start = std::chrono::steady_clock::now();
  int done = 0;
  long sleep_us = 1, cap_us = std::min(20L, max_us);
  for (int spins = 0;; ++spins) {
    check_mpi(MPI_Test(&req, &done, MPI_STATUS_IGNORE), call, where);
    if (done) return;
    if (spins < 32) continue;
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    if (cap_us < max_us && std::chrono::steady_clock::now() - start > std::chrono::milliseconds(500)) cap_us = max_us;
    sleep_us = std::min(sleep_us * 2, cap_us);
  }
}

class MpiComm final : public Comm {
 public:
  MpiComm(MPI_Comm comm, std::string name) : comm_(comm), name_(std::move(name)) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiComm() override {
    // Freed on the communication thread by the backend's destructor job; here only if MPI is still up.
  }
  MPI_Comm comm() const { return comm_; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allreduce(void* buf, int64_t n, DType dtype, ReduceOp op) override {
    MPI_Request req;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, buf, to_int_count(n, "allreduce"), mpi_type(dtype), mpi_op(dtype, op),
                             comm_, &req),
              "MPI_Iallreduce", name_);
    wait_request(req, "MPI_Iallreduce", name_);
    count(2.0 * (size_ - 1) / size_ * static_cast<double>(n * itemsize(dtype)));
  }
  void broadcast(void* buf, int64_t n, DType dtype, int root) override {
    MPI_Request req;
    check_mpi(MPI_Ibcast(buf, to_int_count(n, "broadcast"), mpi_type(dtype), root, comm_, &req), "MPI_Ibcast", name_);
    wait_request(req, "MPI_Ibcast", name_);
    count(static_cast<double>(size_ - 1) / size_ * static_cast<double>(n * itemsize(dtype)));
  }
  void reduce(void* buf, int64_t n, DType dtype, ReduceOp op, int root) override {
    MPI_Request req;
    const int cnt = to_int_count(n, "reduce");
    if (rank_ == root)
      check_mpi(MPI_Ireduce(MPI_IN_PLACE, buf, cnt, mpi_type(dtype), mpi_op(dtype, op), root, comm_, &req),
                "MPI_Ireduce", name_);
    else
      check_mpi(MPI_Ireduce(buf, nullptr, cnt, mpi_type(dtype), mpi_op(dtype, op), root, comm_, &req),
                "MPI_Ireduce", name_);
    wait_request(req, "MPI_Ireduce", name_);
    count(static_cast<double>(size_ - 1) / size_ * static_cast<double>(n * itemsize(dtype)));
  }
  void allgather_v(const void* in, void* out, const std::vector<int64_t>& counts, DType dtype) override {
    MPI_Request req;
    if (all_equal(counts)) {
      const int c = to_int_count(counts[0], "allgather");
      check_mpi(MPI_Iallgather(in, c, mpi_type(dtype), out, c, mpi_type(dtype), comm_, &req), "MPI_Iallgather", name_);
    } else {
      std::vector<int> cnt, displs;
      make_counts(counts, cnt, displs, "allgather_v");
      check_mpi(MPI_Iallgatherv(in, cnt[static_cast<size_t>(rank_)], mpi_type(dtype), out, cnt.data(), displs.data(),
                                mpi_type(dtype), comm_, &req),
                "MPI_Iallgatherv", name_);
    }
    wait_request(req, "MPI_Iallgather", name_);
    count(static_cast<double>(size_ - 1) / size_ * static_cast<double>(total(counts) * itemsize(dtype)));
  }
  void reduce_scatter_v(const void* in, void* out, const std::vector<int64_t>& counts, DType dtype,
                        ReduceOp op) override {
    MPI_Request req;
    if (all_equal(counts)) {
      check_mpi(MPI_Ireduce_scatter_block(in, out, to_int_count(counts[0], "reduce_scatter"), mpi_type(dtype),
                                          mpi_op(dtype, op), comm_, &req),
                "MPI_Ireduce_scatter_block", name_);
    } else {
      std::vector<int> cnt, displs;
      make_counts(counts, cnt, displs, "reduce_scatter_v");
      check_mpi(MPI_Ireduce_scatter(in, out, cnt.data(), mpi_type(dtype), mpi_op(dtype, op), comm_, &req),
                "MPI_Ireduce_scatter", name_);
    }
    wait_request(req, "MPI_Ireduce_scatter", name_);
    count(static_cast<double>(size_ - 1) / size_ * static_cast<double>(total(counts) * itemsize(dtype)));
  }
  void all_to_all(const void* in, void* out, int64_t n_per_rank, DType dtype) override {
    MPI_Request req;
    const int c = to_int_count(n_per_rank, "all_to_all");
    check_mpi(MPI_Ialltoall(in, c, mpi_type(dtype), out, c, mpi_type(dtype), comm_, &req), "MPI_Ialltoall", name_);
    wait_request(req, "MPI_Ialltoall", name_);
    count(static_cast<double>((size_ - 1) * n_per_rank * itemsize(dtype)));
  }
  void send(const void* buf, int64_t n, DType dtype, int dst, int tag) override {
    MPI_Request req;
    check_mpi(MPI_Isend(buf, to_int_count(n, "send"), mpi_type(dtype), dst, tag, comm_, &req), "MPI_Isend", name_);
    wait_request(req, "MPI_Isend", name_);
    count(static_cast<double>(n * itemsize(dtype)));
  }
  void recv(void* buf, int64_t n, DType dtype, int src, int tag) override {
    MPI_Request req;
    check_mpi(MPI_Irecv(buf, to_int_count(n, "recv"), mpi_type(dtype), src, tag, comm_, &req), "MPI_Irecv", name_);
    wait_request(req, "MPI_Irecv", name_);
  }
  void barrier() override {
    MPI_Request req;
    check_mpi(MPI_Ibarrier(comm_, &req), "MPI_Ibarrier", name_);
    wait_request(req, "MPI_Ibarrier", name_);
  }

 private:
  static bool all_equal(const std::vector<int64_t>& c) {
    for (int64_t v : c)
      if (v != c[0]) return false;
    return true;
  }
  static int64_t total(const std::vector<int64_t>& c) {
    int64_t t = 0;
    for (int64_t v : c) t += v;
    return t;
  }
  static void make_counts(const std::vector<int64_t>& counts, std::vector<int>& cnt, std::vector<int>& displs,
                          const char* op) {
    int64_t off = 0;
    for (int64_t c : counts) {
      cnt.push_back(to_int_count(c, op));
      displs.push_back(to_int_count(off, op));
      off += c;
    }
  }

  MPI_Comm comm_;
  std::string name_;
  int rank_ = 0, size_ = 1;
};

// ---- the communication thread: jobs one at a time, in the order queued

struct Item {
  Collective c;
  Job job;
  std::shared_ptr<MpiComm> comm;
};

class Worker {
 public:
  Worker() : thread_([this] { loop(); }) {}
  ~Worker() { stop(); }

  void push(Item item) {
    {
      std::lock_guard lock(mu_);
      DS_CHECK(!stopping_, "dist", "the distributed runtime was shut down; {} cannot run", item.c.description);
      queue_.push_back(std::move(item));
    }
    cv_.notify_one();
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    for (;;) {
      Item item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and every queued job has run
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      run(item);
    }
  }
  static void run(Item& item) {
    const Collective& c = item.c;
    if (c.record_id) FlightRecorder::instance().started(c.record_id);
    const uint64_t wd = Watchdog::instance().begin(c.description, c.timeout);
    try {
      item.comm->bytes = c.bytes_counter;
      item.job(*item.comm);
    } catch (const std::exception& e) {
      // Peers are now out of step with this rank (a half-done collective): end the job with the history rather
      // than let them wait for the timeout.
      Watchdog::instance().fault(fmt::format("{} failed: {}", c.description, e.what()));
    }
    Watchdog::instance().end(wd);
    if (c.record_id) FlightRecorder::instance().ended(c.record_id, true);
    if (c.work) c.work->complete();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

struct Runtime {
  std::mutex mu;
  std::unique_ptr<Worker> worker;
  bool we_initialised = false;
};
Runtime& runtime() {
  static Runtime r;
  return r;
}

class MpiBackend final : public Backend {
 public:
  explicit MpiBackend(std::shared_ptr<MpiComm> comm) : comm_(std::move(comm)) {}
  ~MpiBackend() override {
    // MPI_Comm_free must not race the communication thread: it is queued there, after the group's last job (every
    // member drops its groups in the same order, as MPI wants of this collective call).
    Runtime& rt = runtime();
    std::lock_guard lock(rt.mu);
    if (!rt.worker) return;
    std::shared_ptr<MpiComm> comm = comm_;
    Collective c;
    c.description = "free communicator";
    c.timeout = std::chrono::hours(1);
    try {
      rt.worker->push({std::move(c), [comm](Comm&) {
                         MPI_Comm h = comm->comm();
                         MPI_Comm_free(&h);
                       },
                       comm});
    } catch (...) {
    }
  }
  int rank() const override { return comm_->rank(); }
  int size() const override { return comm_->size(); }

  void enqueue(Collective c) override {
    Collective copy = c;
    enqueue_job(std::move(c), [copy](Comm& comm) { run_collective(comm, copy); });
  }
  void enqueue_job(Collective c, Job job) override {
    Runtime& rt = runtime();
    std::lock_guard lock(rt.mu);
    DS_CHECK(rt.worker != nullptr, "dist", "the distributed runtime was shut down; {} cannot run", c.description);
    Collective info = c;
    info.work.reset();
    rt.worker->push({std::move(c),
                     [info = std::move(info), job = std::move(job)](Comm& comm) {
                       check_matching(comm, info);
                       job(comm);
                     },
                     comm_});
  }
  std::shared_ptr<Backend> split(int color, int key, Timeout timeout) override {
    auto work = std::make_shared<Work>("split");
    Collective c;
    c.kind = OpKind::kSplit;
    c.description = "split of a process group";
    c.timeout = timeout;
    c.work = work;
    MPI_Comm out = MPI_COMM_NULL;
    enqueue_job(std::move(c), [&out, color, key](Comm& comm) {
      auto& mc = static_cast<MpiComm&>(comm);
      check_mpi(MPI_Comm_split(mc.comm(), color < 0 ? MPI_UNDEFINED : color, key, &out), "MPI_Comm_split", "split");
    });
    work->wait();
    if (out == MPI_COMM_NULL) return nullptr;
    return std::make_shared<MpiBackend>(std::make_shared<MpiComm>(out, "split"));
  }

 private:
  std::shared_ptr<MpiComm> comm_;
};

}  // namespace

std::shared_ptr<Backend> mpi_world_backend(int expected_rank, int expected_size, Timeout timeout) {
  Runtime& rt = runtime();
  {
    std::lock_guard lock(rt.mu);
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread", "startup");
      rt.we_initialised = true;
      DS_CHECK(provided >= MPI_THREAD_SERIALIZED, "dist",
               "the MPI library provides thread level {}, ds needs at least MPI_THREAD_SERIALIZED", provided);
      if (provided == MPI_THREAD_MULTIPLE)
        Watchdog::instance().add_abort_handler([](int code) { MPI_Abort(MPI_COMM_WORLD, code); });
    }
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    DS_CHECK(rank == expected_rank && size == expected_size, "dist",
             "the launcher's environment says rank {} of {}, but MPI says rank {} of {}: was the program started by "
             "another MPI's mpirun?", expected_rank, expected_size, rank, size);
    if (!rt.worker) rt.worker = std::make_unique<Worker>();
  }
  // The world group's own communicator, made on the communication thread like every other MPI call.
  auto work = std::make_shared<Work>("startup");
  MPI_Comm dup = MPI_COMM_NULL;
  Collective c;
  c.description = "MPI_Comm_dup of MPI_COMM_WORLD at startup";
  c.timeout = timeout;
  c.work = work;
  {
    std::lock_guard lock(rt.mu);
    rt.worker->push({std::move(c), [&dup](Comm&) {
                       check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &dup), "MPI_Comm_dup", "startup");
                     },
                     std::make_shared<MpiComm>(MPI_COMM_WORLD, "world")});
  }
  work->wait();
  return std::make_shared<MpiBackend>(std::make_shared<MpiComm>(dup, "world"));
}

void mpi_shutdown() {
  Runtime& rt = runtime();
  std::unique_ptr<Worker> worker;
  {
    std::lock_guard lock(rt.mu);
    worker = std::move(rt.worker);
  }
  if (worker) worker->stop();
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised && rt.we_initialised) MPI_Finalize();
}

std::string mpi_library_version() {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(buf, &len);
  return std::string(buf, static_cast<size_t>(len));
}

}  // namespace ds::dist::detail
