#include "types.h"

#include <cstdlib>

#include <ds/core/detail/check.h>

namespace ds::dist {

std::string_view reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAvg: return "avg";
    case ReduceOp::kMax: return "max";
    case ReduceOp::kMin: return "min";
  }
  return "?";
}

Timeout default_timeout() {
  if (const char* s = std::getenv("DS_DIST_TIMEOUT"); s && *s) {
    char* end = nullptr;
    const double secs = std::strtod(s, &end);
    DS_CHECK(end && *end == 0 && secs > 0 && secs < 1e9, "dist",
             "DS_DIST_TIMEOUT='{}' is not a positive number of seconds", s);
    return Timeout(static_cast<int64_t>(secs * 1000));
  }
  return std::chrono::minutes(10);
}

}  // namespace ds::dist
