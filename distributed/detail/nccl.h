#pragma once
// The NCCL backend's factory (internal): CUDA tensors of a process group go over an NCCL communicator whose unique
// id is broadcast over the group's CPU backend. Builds without NCCL throw a clear error instead.
#include <memory>

#include <ds/core/device.h>

#include "backend.h"

namespace ds::dist {
class ProcessGroup;
}

namespace ds::dist::detail {
// Collective over the group's members (each calls it at its first collective on a CUDA tensor, in the same order).
std::shared_ptr<Backend> make_nccl_backend(ProcessGroup& group, Device device);
// Whether this build has the NCCL backend.
bool nccl_built();
}  // namespace ds::dist::detail
