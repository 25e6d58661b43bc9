#pragma once
// The Philox state (seed, offset) a random op draws from, passed as an input rather than an attribute, so a traced
// graph replays with a fresh draw: an int64 CPU tensor of 2 elements, read on the host by every device's kernel.
#include <ds/core/rng.h>
#include <ds/ops/tensor.h>

namespace ds::rng_input {

inline Tensor make(const PhiloxState& s) {
  Tensor t(empty_base({2}, kI64, kCPU));
  int64_t* p = t.data_ptr<int64_t>();
  p[0] = static_cast<int64_t>(s.seed);
  p[1] = static_cast<int64_t>(s.offset);
  return t;
}

// Reserves `counters` Philox counters of g and returns their state as an input; a tracer records the draw, so a
// replay reserves anew (ops/rules.cpp).
Tensor draw(Generator& g, uint64_t counters);

// Checks the input in a rule: "[op] expects its Philox state as an int64 CPU tensor of 2 (seed, offset) ..."
// (ops/rules.cpp).
void check(const Tensor& t, std::string_view op);

inline PhiloxState read(const Tensor& t) {
  const int64_t* p = t.data_ptr<int64_t>();
  return {static_cast<uint64_t>(p[0]), static_cast<uint64_t>(p[1])};
}

}  // namespace ds::rng_input
