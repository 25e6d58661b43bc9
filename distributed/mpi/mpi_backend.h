#pragma once
// The MPI backend (internal; the only place besides mpi_backend.cpp that knows MPI exists): CPU tensors over MPI,
// every call made on the process's one communication thread.
#include <memory>

#include "../detail/backend.h"

namespace ds::dist::detail {

// Initialises MPI (MPI_THREAD_MULTIPLE, so that the watchdog may MPI_Abort while the communication thread is inside
// MPI) unless the program already did, starts the communication thread, and returns the backend of the whole world
// (a duplicate of MPI_COMM_WORLD). world_size is what the launcher's environment says, checked against MPI's.
std::shared_ptr<Backend> mpi_world_backend(int expected_rank, int expected_size, Timeout timeout);
// Stops the communication thread (after the jobs queued) and finalises MPI, unless the program initialised MPI
// itself. Safe to call when MPI was never started.
void mpi_shutdown();
// Whether this build has MPI (always, when distributed is built) and the library's version string.
std::string mpi_library_version();

}  // namespace ds::dist::detail
