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
