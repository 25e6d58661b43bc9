// Builds without NCCL (no CUDA toolkit, or no NCCL found at configure time): CUDA collectives are a clear error.
#include <ds/core/detail/check.h>

#include "nccl.h"

namespace ds::dist::detail {

std::shared_ptr<Backend> make_nccl_backend(ProcessGroup&, Device device) {
  DS_FAIL("dist", "a collective on a {} tensor needs the NCCL backend, and this build of ds has none (CUDA or NCCL "
          "was not found when it was configured)", device.str());
}

bool nccl_built() { return false; }

}  // namespace ds::dist::detail
