// The launcher's environment: OpenMPI, PMI (MPICH, Intel MPI) and Slurm.
#include "launch_env.h"

#include <cstdlib>
#include <string_view>

#include <ds/core/detail/check.h>

namespace ds::dist {
namespace {

// The variable's value as an int >= lo, or `fallback` when unset; anything else is an error naming it.
int int_var(const std::function<const char*(const char*)>& getenv, const char* name, int fallback, int lo = 0) {
  const char* s = getenv(name);
  if (!s || !*s) return fallback;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  DS_CHECK(end && *end == 0 && v >= lo && v < (1L << 24), "launch", "{}='{}' is not an integer >= {}", name, s, lo);
  return static_cast<int>(v);
}

// Slurm's SLURM_TASKS_PER_NODE ("2(x3),1": 2 tasks on each of 3 nodes, then 1) for node `node`.
int slurm_tasks_on_node(const char* spec, int node) {
  std::string_view s(spec);
  int index = 0;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    int tasks = 0, repeat = 1;
    const size_t paren = part.find("(x");
    const std::string head(part.substr(0, paren));
    tasks = std::atoi(head.c_str());
    if (paren != std::string_view::npos) repeat = std::atoi(std::string(part.substr(paren + 2)).c_str());
    DS_CHECK(tasks > 0 && repeat > 0, "launch", "SLURM_TASKS_PER_NODE='{}' is malformed", spec);
    if (node < index + repeat) return tasks;
    index += repeat;
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  DS_FAIL("launch", "SLURM_TASKS_PER_NODE='{}' lists fewer nodes than SLURM_NODEID {}", spec, node);
}

}  // namespace

LaunchEnv parse_launch_env(const std::function<const char*(const char*)>& getenv) {
  LaunchEnv e;
  if (getenv("OMPI_COMM_WORLD_SIZE")) {
    e.launcher = "openmpi";
    e.world_size = int_var(getenv, "OMPI_COMM_WORLD_SIZE", 1, 1);
    e.rank = int_var(getenv, "OMPI_COMM_WORLD_RANK", -1);
    DS_CHECK(e.rank >= 0, "launch", "OMPI_COMM_WORLD_SIZE is set but OMPI_COMM_WORLD_RANK is not");
    e.local_rank = int_var(getenv, "OMPI_COMM_WORLD_LOCAL_RANK", 0);
    e.local_world_size = int_var(getenv, "OMPI_COMM_WORLD_LOCAL_SIZE", 1, 1);
  } else if (getenv("PMI_SIZE") || getenv("PMI_RANK")) {
    e.launcher = "pmi";
    e.world_size = int_var(getenv, "PMI_SIZE", -1, 1);
    e.rank = int_var(getenv, "PMI_RANK", -1);
    DS_CHECK(e.world_size >= 1 && e.rank >= 0, "launch", "PMI_RANK and PMI_SIZE must both be set");
    e.local_rank = int_var(getenv, "MPI_LOCALRANKID", 0);
    e.local_world_size = int_var(getenv, "MPI_LOCALNRANKS", 1, 1);
  } else if (getenv("SLURM_PROCID") && getenv("SLURM_NTASKS")) {
    e.launcher = "slurm";
    e.world_size = int_var(getenv, "SLURM_NTASKS", 1, 1);
    e.rank = int_var(getenv, "SLURM_PROCID", 0);
    e.local_rank = int_var(getenv, "SLURM_LOCALID", 0);
    if (const char* tpn = getenv("SLURM_TASKS_PER_NODE"))
      e.local_world_size = slurm_tasks_on_node(tpn, int_var(getenv, "SLURM_NODEID", 0));
    else
      e.local_world_size = e.world_size;
  } else {
    DS_CHECK(!getenv("WORLD_SIZE") || std::string_view(getenv("WORLD_SIZE")) == "1", "launch",
             "WORLD_SIZE={} is set (by torchrun?) but no MPI or Slurm launcher started this process: start ds "
             "programs with ./ds launch -n N, mpirun -n N or srun", getenv("WORLD_SIZE"));
    return e;
  }
  DS_CHECK(e.rank < e.world_size, "launch", "rank {} is not below the world size {} ({} launcher)", e.rank,
           e.world_size, e.launcher);
  DS_CHECK(e.local_rank < e.local_world_size && e.local_world_size <= e.world_size, "launch",
           "local rank {} of {} does not fit a world of {} ({} launcher)", e.local_rank, e.local_world_size,
           e.world_size, e.launcher);
  return e;
}

LaunchEnv launch_env() { return parse_launch_env([](const char* name) { return std::getenv(name); }); }

}  // namespace ds::dist
