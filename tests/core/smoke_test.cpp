#include <catch2/catch.hpp>
#include <ds/ds.h>

TEST_CASE("smoke") {
  auto a = ds::ones({2, 3});
  auto b = a + a;
  REQUIRE(b.sum().item<double>() == 12.0);
}
