// RandomStream and epoch_permutation: keyed, reproducible, uniform enough, and a true permutation.
#include <algorithm>
#include <numeric>

#include <catch2/catch.hpp>

#include <ds/data/data.h>

using namespace ds::data;

TEST_CASE("epoch_permutation is a reproducible permutation that changes with seed and epoch", "[data]") {
  const std::vector<int64_t> p = epoch_permutation(1000, 42, 3);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);
  CHECK(p != iota);
  CHECK(p == epoch_permutation(1000, 42, 3));
  CHECK(p != epoch_permutation(1000, 42, 4));
  CHECK(p != epoch_permutation(1000, 43, 3));
  CHECK(epoch_permutation(0, 1, 0).empty());
  CHECK(epoch_permutation(1, 1, 0) == std::vector<int64_t>{0});
  // Every position receives each value about equally often.
  std::vector<int> first_counts(4, 0);
  for (int64_t e = 0; e < 4000; ++e) ++first_counts[static_cast<size_t>(epoch_permutation(4, 9, e)[0])];
  for (int c : first_counts) CHECK(std::abs(c - 1000) < 150);
}

TEST_CASE("RandomStream draws depend only on their key", "[data]") {
  RandomStream a = RandomStream::for_sample(1, 2, 3), b = RandomStream::for_sample(1, 2, 3);
  RandomStream c = RandomStream::for_sample(1, 2, 4), d = RandomStream::for_sample(1, 3, 3);
  const uint32_t a0 = a.next_u32();
  CHECK(a0 == b.next_u32());
  CHECK(a0 != c.next_u32());
  CHECK(a0 != d.next_u32());
  RandomStream s = RandomStream::for_sample(5, 0, 0);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const float u = s.uniform();
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    sum += u;
    const int64_t k = s.below(7);
    REQUIRE(k >= 0);
    REQUIRE(k < 7);
  }
  CHECK(sum / 10000 == Approx(0.5).margin(0.02));
  CHECK_THROWS_WITH(s.below(0), Catch::Contains("[random_stream]"));
}
