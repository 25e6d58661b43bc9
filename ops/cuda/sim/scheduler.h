#pragma once
// cudasim's execution model (internal): a kernel launch runs its blocks one after another on the calling thread;
// the threads of a block are fibers on stacks of their own, switched only where CUDA threads wait for each other
// (__syncthreads, warp shuffles, votes and __syncwarp). So block barriers and warp exchanges have CUDA's meaning,
// shared memory is shared by the block, registers and local arrays are each thread's own, and the misuse CUDA
// leaves undefined (a barrier that not every thread reaches, a shuffle naming an exited lane) is an error that
// names the kernel. Nothing here runs concurrently, so atomics are plain read-modify-writes.
#include <cstddef>
#include <cstdint>

#include <vector_types.h>

namespace ds::cudasim {

// The coordinates of the running CUDA thread; the scheduler sets them before resuming a fiber.
struct Coords {
  uint3 thread_idx{0, 0, 0};
  uint3 block_idx{0, 0, 0};
  dim3 block_dim{1, 1, 1};
  dim3 grid_dim{1, 1, 1};
};
extern thread_local Coords tls_coords;

// Block barrier; with a predicate, returns how many threads of the block passed a non-zero one.
int block_barrier(int predicate);
// Warp collectives over the lanes in `mask` (all of which must reach one, with the same mask).
enum class WarpOp : uint8_t { shuffle, vote, sync };
// shuffle: returns the `value` posted by lane `src_lane` (a lane of the mask); vote: the mask of lanes whose value
// is non-zero; sync: nothing.
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int src_lane);
// The lanes of the caller's warp that have not exited.
unsigned live_lanes();
// The launch's dynamic shared memory (extern __shared__), filled with 0xff bytes (NaN) at the start of each block.
void* dynamic_shared();
// A device-side trap: ends the launch with an error carrying `why`.
[[noreturn]] void trap(const char* why);

using KernelBody = void (*)(void* args);
// Runs body(args) as every thread of grid x block. Returns cudaSuccess or an error code, with the details in
// last_launch_error(). `kernel` identifies the function for cudaFuncSetAttribute's limits.
int launch(const void* kernel, dim3 grid, dim3 block, size_t dynamic_smem, KernelBody body, void* args);
const char* last_launch_error();
// The dynamic shared memory a kernel may take (48 KiB unless raised by cudaFuncSetAttribute, up to 227 KiB).
void set_max_dynamic_smem(const void* kernel, int bytes);

}  // namespace ds::cudasim
