#pragma once
// Time per primitive through the dispatcher's profiler hooks (outermost calls only: a composite's inner ops count
// towards the primitive that called them), for the benchmarks' --profile: the map for optimising.
#include <string>

namespace ds::bench {

// Installs the hooks for its lifetime (one at a time), collecting time and calls per primitive.
class OpProfile {
 public:
  OpProfile();
  ~OpProfile();
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;
  // Prints ms per step by primitive, largest first, for `steps` steps of `step_ms` each.
  void print(const std::string& title, int steps, double step_ms) const;
};

}  // namespace ds::bench
