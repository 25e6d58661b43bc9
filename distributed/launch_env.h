#pragma once
// Who this process is in a launched job: rank, world size and local rank, read from the environment that OpenMPI's
// mpirun (OMPI_COMM_WORLD_*), MPICH/Intel MPI (PMI_RANK, PMI_SIZE, MPI_LOCALRANKID, MPI_LOCALNRANKS) or Slurm's
// srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_TASKS_PER_NODE) set. With none of them, a world of one.
#include <functional>
#include <string>

namespace ds::dist {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;        // rank among the processes on this host
  int local_world_size = 1;  // processes on this host
  std::string launcher = "none";  // "openmpi", "pmi", "slurm" or "none"
};

// The environment of this process. Contradicting or malformed variables are an error naming them.
LaunchEnv launch_env();
// The same from any lookup (tests give a map): getenv(name) returns the value or null.
LaunchEnv parse_launch_env(const std::function<const char*(const char*)>& getenv);

}  // namespace ds::dist
