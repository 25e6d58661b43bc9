#pragma once
// Starting and ending the distributed runtime (torch.distributed.init_process_group).
//
//   auto world = ds::dist::init_process_group();   // rank, size from mpirun / srun / ./ds launch; 1 without
//   ...                                            // world->allreduce(t)->wait(), DDP, ...
//   ds::dist::destroy_process_group();             // optional: also done at exit
//
// A world of one process starts no MPI. With several, MPI is initialised (unless the program did it), the
// communication thread and the watchdog start, and each rank learns its peers' hosts and pids (for fault reports).
#include <memory>
#include <vector>

#include <ds/distributed/launch_env.h>
#include <ds/distributed/process_group.h>

namespace ds::dist {

struct InitOptions {
  Timeout timeout = default_timeout();  // of every collective of the world and of groups made from it
  // CPU threads of this rank's kernels: 0 = OMP_NUM_THREADS when set, else the host's cores divided by the ranks on
  // this host (at least 1), so that ranks do not oversubscribe the cores.
  int threads_per_rank = 0;
};

// Starts the runtime from the launcher's environment and returns the world group; later calls return the same group
// (options then are ignored).
ProcessGroupPtr init_process_group(const InitOptions& options = {});
bool is_initialized();
// The world group; an error before init_process_group.
ProcessGroupPtr world();
// This process's rank and the world size (0 and 1 before init_process_group).
int get_rank();
int get_world_size();
// What the launcher said (valid after init_process_group).
const LaunchEnv& launch_info();
// A subgroup of the world (ranks are world ranks); collective over the world, null on non-members.
ProcessGroupPtr new_group(const std::vector<int>& ranks, const std::string& name = "");
// Waits for every rank (a barrier within the world's timeout), stops the communication thread and finalises MPI.
// Registered to run at exit; calling it again does nothing.
void destroy_process_group();
// Ends the whole job from this rank: prints `reason`, this rank's collective history and its peers' state, then
// aborts every rank (MPI_Abort). For errors a rank cannot recover from, so that no peer waits for it forever.
[[noreturn]] void abort_job(const std::string& reason, int exit_code = 1);

}  // namespace ds::dist
