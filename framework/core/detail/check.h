#pragma once
// DS_CHECK(cond, op, fmt, args...): throws ds::Error "[op] message" when cond is false. Internal (uses fmt).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "../error.h"
#include "../shape.h"

#define DS_CHECK(cond, op, ...)                                          \
  do {                                                                   \
    if (!(cond)) [[unlikely]] ::ds::throw_error((op), fmt::format(__VA_ARGS__)); \
  } while (0)

#define DS_FAIL(op, ...) ::ds::throw_error((op), fmt::format(__VA_ARGS__))

template <>
struct fmt::formatter<ds::IntArrayRef> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(ds::IntArrayRef s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(ds::shape_str(s), ctx);
  }
};
template <>
struct fmt::formatter<ds::Shape> : fmt::formatter<ds::IntArrayRef> {
  template <typename Ctx>
  auto format(const ds::Shape& s, Ctx& ctx) const {
    return fmt::formatter<ds::IntArrayRef>::format(ds::IntArrayRef(s), ctx);
  }
};
