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

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>

#include <ds/ds.h>
#include <ds/ops/op_def.h>

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

// Compares two CPU tensors elementwise (as float64): |got - want| <= tol (1 + |want|), NaN equal to NaN. On a
// mismatch, `why` names the first element that differs and both values.
inline bool all_close(const ds::Tensor& got, const ds::Tensor& want, double tol, std::string& why) {
  if (got.sizes() != want.sizes()) {
    why = "shape " + ds::shape_str(got.sizes()) + " vs " + ds::shape_str(want.sizes());
    return false;
  }
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double a = ds::read_element(got, i), b = ds::read_element(want, i);
    if ((std::isnan(a) && std::isnan(b)) || a == b) continue;  // a == b: equal infinities too
    if (!(std::fabs(a - b) <= tol * (1 + std::fabs(b)))) {
      std::ostringstream s;
      s << "element " << i << ": got " << a << ", want " << b << " (tol " << tol << ")";
      why = s.str();
      return false;
    }
  }
  return true;
}

// Every row of the op table: the primitives, then the composites.
inline std::vector<const ds::OpDef*> op_rows() {
  std::vector<const ds::OpDef*> rows;
  for (const ds::OpDef* d : ds::primitive_defs()) rows.push_back(d);
  for (const ds::OpDef* d : ds::composite_defs()) rows.push_back(d);
  return rows;
}
