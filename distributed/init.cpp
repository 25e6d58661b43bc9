// The distributed runtime's lifetime: the world group, MPI start-up and shutdown, peers for fault reports.
#include "init.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numeric>
#include <thread>

#include <ds/core/detail/check.h>
#include <ds/core/logging.h>
#include <ds/ops/factory.h>
#include <ds/ops/threads.h>

#include "detail/self_backend.h"
#include "mpi/mpi_backend.h"
#include "watchdog.h"

namespace ds::dist {
namespace {

struct Runtime {
  std::mutex mu;
  ProcessGroupPtr world;
  LaunchEnv env;
  bool mpi = false;
  bool exit_hook = false;
};
Runtime& runtime() {
  static Runtime* r = new Runtime();  // lives until exit: the exit hook uses it
  return *r;
}

// Every rank's host name and pid, gathered over the world.
std::vector<PeerInfo> gather_peers(ProcessGroup& world) {
  constexpr int64_t kHost = 120;
  struct Entry {
    char host[kHost];
    int64_t pid;
  };
  Entry mine{};
  gethostname(mine.host, kHost - 1);
  mine.pid = getpid();
  Tensor in = empty({static_cast<int64_t>(sizeof(Entry))}, {.dtype = kU8});
  std::memcpy(in.data(), &mine, sizeof(Entry));
  Tensor out = empty({static_cast<int64_t>(sizeof(Entry)) * world.size()}, {.dtype = kU8});
  world.allgather(out, in)->wait();
  std::vector<PeerInfo> peers;
  const auto* all = static_cast<const Entry*>(out.data());
  for (int r = 0; r < world.size(); ++r) peers.push_back({r, all[r].host, static_cast<int>(all[r].pid)});
  return peers;
}

void set_threads(const InitOptions& options, const LaunchEnv& env) {
  if (options.threads_per_rank > 0) {
    set_num_threads(options.threads_per_rank);
    return;
  }
  if (std::getenv("OMP_NUM_THREADS")) return;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  set_num_threads(std::max(1, cores / std::max(1, env.local_world_size)));
}

}  // namespace

ProcessGroupPtr init_process_group(const InitOptions& options) {
  Runtime& rt = runtime();
  std::lock_guard lock(rt.mu);
  if (rt.world) return rt.world;
  rt.env = launch_env();
  set_threads(options, rt.env);
  std::vector<int> ranks(static_cast<size_t>(rt.env.world_size));
  std::iota(ranks.begin(), ranks.end(), 0);
  if (rt.env.world_size == 1) {
    rt.world = std::make_shared<ProcessGroup>("world", 0, ranks, detail::self_backend(), options.timeout);
    return rt.world;
  }
  rt.mpi = true;
  auto backend = detail::mpi_world_backend(rt.env.rank, rt.env.world_size, options.timeout);
  rt.world = std::make_shared<ProcessGroup>("world", rt.env.rank, ranks, std::move(backend), options.timeout);
  Watchdog::instance().set_identity(rt.env.rank, rt.env.world_size, gather_peers(*rt.world));
  Watchdog::instance().catch_signals();
  if (!rt.exit_hook) {
    std::atexit([] { destroy_process_group(); });
    rt.exit_hook = true;
  }
  if (rt.env.rank == 0)
    log_info(fmt::format("distributed: {} ranks ({} launcher, {} on this host), MPI backend, {} CPU threads per rank",
                         rt.env.world_size, rt.env.launcher, rt.env.local_world_size, get_num_threads()));
  return rt.world;
}

bool is_initialized() {
  Runtime& rt = runtime();
  std::lock_guard lock(rt.mu);
  return rt.world != nullptr;
}

ProcessGroupPtr world() {
  Runtime& rt = runtime();
  std::lock_guard lock(rt.mu);
  DS_CHECK(rt.world != nullptr, "dist", "the distributed runtime is not started: call ds::dist::init_process_group()");
  return rt.world;
}

int get_rank() {
  Runtime& rt = runtime();
  std::lock_guard lock(rt.mu);
  return rt.world ? rt.world->rank() : 0;
}

int get_world_size() {
  Runtime& rt = runtime();
  std::lock_guard lock(rt.mu);
  return rt.world ? rt.world->size() : 1;
}

const LaunchEnv& launch_info() { return runtime().env; }

ProcessGroupPtr new_group(const std::vector<int>& ranks, const std::string& name) {
  return world()->new_group(ranks, name);
}

void destroy_process_group() {
  Runtime& rt = runtime();
  ProcessGroupPtr w;
  bool mpi = false;
  {
    std::lock_guard lock(rt.mu);
    w = std::move(rt.world);
    mpi = rt.mpi;
    rt.mpi = false;
  }
  if (!w) return;
  if (mpi) {
    // No rank leaves while another may still talk to it; a rank that never arrives ends the job by the timeout.
    w->barrier()->wait();
    w.reset();
    detail::mpi_shutdown();
  }
}

void abort_job(const std::string& reason, int exit_code) {
  if (get_world_size() > 1) Watchdog::instance().fault(reason, exit_code);
  std::fprintf(stderr, "%s\n", reason.c_str());
  std::exit(exit_code);
}

}  // namespace ds::dist
