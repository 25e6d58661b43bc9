#pragma once
// Helpers shared by the tests.
#include <catch2/catch.hpp>

// CHECK(cond) with a message shown when it fails (Catch2 v2 has no CHECK_MESSAGE).
#define DS_CHECK_MSG(cond, msg) \
  do {                          \
    const bool ok_ = (cond);    \
    INFO(msg);                  \
    CHECK(ok_);                 \
  } while (0)

#include <cstring>

#include <ds/ds.h>

// Same shape, dtype and bytes (bitwise equality, for reproducibility tests).
inline bool equal_bits(const ds::Tensor& a, const ds::Tensor& b) {
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype()) return false;
  const ds::Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.data(), y.data(), x.nbytes()) == 0;
}

// Two lists of tensors (e.g. gradients) of the same length, every pair defined and bitwise equal.
inline void check_all_equal_bits(const std::vector<ds::Tensor>& a, const std::vector<ds::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("tensor " << i);
    REQUIRE(a[i].defined());
    REQUIRE(b[i].defined());
    CHECK(equal_bits(a[i], b[i]));
  }
}
