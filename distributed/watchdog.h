#pragma once
// The watchdog: one thread per process that ends a distributed run which can no longer make progress, loudly and
// on every rank, instead of letting it hang.
//
// - Each collective in flight on a communication thread or stream is registered with its deadline (its group's
//   timeout). When one passes, the watchdog reports it and aborts the job.
// - SIGTERM, SIGINT and SIGHUP (how mpirun and srun stop the other ranks when one dies or aborts) are caught: the
//   watchdog reports what this rank was waiting in and exits with 128 + the signal.
// A report goes to stderr: this rank, host and pid, the reason, the collective it was waiting in, which peers on
// this host are still alive, and the flight recorder's history. The job is then aborted (MPI_Abort, after
// aborting NCCL communicators), so no rank is left behind.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ds::dist {

struct PeerInfo {
  int rank = 0;
  std::string host;
  int pid = 0;
};

class Watchdog {
 public:
  static Watchdog& instance();

  // An operation in flight until end(id); the watchdog fires when it is still in flight after `timeout`.
  uint64_t begin(std::string what, std::chrono::milliseconds timeout);
  void end(uint64_t id);

  // Who this process is, and its peers (rank, host, pid), for reports. Set by init_process_group.
  void set_identity(int rank, int world_size, std::vector<PeerInfo> peers);
  // Called (once, in order) before the process exits on a fault: NCCL communicators abort here, then MPI_Abort.
  void add_abort_handler(std::function<void(int exit_code)> fn);
  // Catches SIGTERM, SIGINT and SIGHUP from now on (only in multi-rank runs).
  void catch_signals();

  // Prints the report for `reason` and ends the job with exit_code; never returns.
  [[noreturn]] void fault(const std::string& reason, int exit_code = 3);
  // The report fault() prints (for tests and for errors that are thrown rather than fatal).
  std::string report(const std::string& reason) const;
  // "rank 1 of 2 (host vm, pid 1234)".
  std::string whoami() const;
  // "rank 0 (pid 1233): exited" for every peer on this host, one per line.
  std::string peer_status() const;

 private:
  Watchdog();
  void run();
};

}  // namespace ds::dist
