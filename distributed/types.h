#pragma once
// Names shared by the distributed layer: reduction ops, timeouts, and the default timeout.
#include <chrono>
#include <cstdint>
#include <string_view>

namespace ds::dist {

// How allreduce, reduce and reduce_scatter combine the ranks' values. kAvg divides the sum by the group size (floating
// dtypes only). On bool tensors kSum and kMax are a logical or, kMin a logical and.
enum class ReduceOp : uint8_t { kSum, kAvg, kMax, kMin };
std::string_view reduce_op_name(ReduceOp op);

using Timeout = std::chrono::milliseconds;

// The collective timeout of new process groups: DS_DIST_TIMEOUT (seconds, may be fractional) when set, else 10
// minutes (PyTorch's default).
Timeout default_timeout();

}  // namespace ds::dist
