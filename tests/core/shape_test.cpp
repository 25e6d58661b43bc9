// Shape helpers: broadcasting, strides, dim wrapping, and their errors.
#include <catch2/catch.hpp>

#include <ds/ds.h>

using namespace ds;

TEST_CASE("broadcast_shapes follows NumPy", "[core]") {
  CHECK(broadcast_shapes({3, 1}, {1, 4}, "t") == Shape{3, 4});
  CHECK(broadcast_shapes({2, 3, 4}, {4}, "t") == Shape{2, 3, 4});
  CHECK(broadcast_shapes({}, {5}, "t") == Shape{5});
  CHECK(broadcast_shapes({0, 1}, {1, 3}, "t") == Shape{0, 3});
  CHECK_THROWS_WITH(broadcast_shapes({2, 3}, {4}, "add"),
                    "[add] shapes [2, 3] and [4] cannot be broadcast (dimension 1: 3 vs 4)");
}

TEST_CASE("contiguous strides and layout checks", "[core]") {
  CHECK(contiguous_strides({2, 3, 4}) == Shape{12, 4, 1});
  CHECK(contiguous_strides({}) == Shape{});
  CHECK(is_contiguous_layout({2, 3}, {3, 1}));
  CHECK_FALSE(is_contiguous_layout({2, 3}, {1, 2}));
  CHECK(is_contiguous_layout({1, 3}, {100, 1}));  // size-1 dims may have any stride
  CHECK(numel_of({2, 0, 4}) == 0);
}

TEST_CASE("wrap_dim accepts negative dims and names the op on error", "[core]") {
  CHECK(wrap_dim(-1, 3, "t") == 2);
  CHECK(wrap_dim(0, 0, "t") == 0);  // a 0-d tensor takes dim 0 and -1
  CHECK_THROWS_WITH(wrap_dim(3, 3, "sum"), "[sum] dim 3 out of range for a tensor of 3 dimensions");
  CHECK_THROWS_WITH(wrap_dim(-4, 3, "sum"), Catch::Matchers::Contains("dim -4 out of range"));
}

TEST_CASE("devices parse and print", "[core]") {
  CHECK(Device("cpu") == kCPU);
  CHECK(Device("cuda:1").index == 1);
  CHECK(Device("cuda").str() == "cuda:0");
  CHECK_THROWS_WITH(Device("tpu"), Catch::Matchers::Contains("cannot parse device 'tpu'"));
}
