#pragma once
// ds::cuda::launch: every kernel of the CUDA backend starts here, so every launch is checked and its error names
// the op, the grid and the block. With DS_CUDA_LAUNCH_BLOCKING=1 each launch also waits for the kernel, so a fault
// inside it is reported by the op that launched it (as CUDA_LAUNCH_BLOCKING does). In a cudasim build the kernel
// runs on the CPU here (sim/scheduler.h).
#include <string_view>
#include <tuple>
#include <type_traits>

#include "check.h"
#include "prelude.cuh"

namespace ds::cuda {

inline unsigned blocks_for(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

template <typename... P, typename... A>
void launch(std::string_view op, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
            A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "launch: the kernel takes a different number of arguments");
#if DS_CUDASIM
  (void)stream;
  struct Pack {
    void (*k)(P...);
    std::tuple<std::decay_t<P>...> a;
  };
  Pack pack{kernel, std::tuple<std::decay_t<P>...>(static_cast<std::decay_t<P>>(args)...)};
  const int err = cudasim::launch(
      reinterpret_cast<const void*>(kernel), grid, block, smem,
      [](void* v) {
        auto* p = static_cast<Pack*>(v);
        std::apply(p->k, p->a);
      },
      &pack);
  if (err != cudaSuccess) throw_launch_error(op, static_cast<cudaError_t>(err), cudasim::last_launch_error(), grid, block, smem);
#else
  kernel<<<grid, block, smem, stream>>>(static_cast<std::decay_t<P>>(args)...);
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess && launch_blocking()) err = cudaStreamSynchronize(stream);
  if (err != cudaSuccess) throw_launch_error(op, err, "", grid, block, smem);
#endif
}

// Raises the dynamic shared memory a kernel may take above the default 48 KiB (once per kernel is enough).
template <typename... P>
void allow_dynamic_smem(void (*kernel)(P...), size_t bytes) {
  DS_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel),
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

}  // namespace ds::cuda
