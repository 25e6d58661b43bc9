// Transforms on small inputs worked out by hand; random ones are checked by replaying their documented draws.
#include <set>
#include <utility>

#include <catch2/catch.hpp>

#include <ds/data/data.h>

#include "../test_util.h"

using namespace ds;
using namespace ds::data;

namespace {
// (1,3,3) holding 1..9 row-major.
Tensor three_by_three() { return arange(1, 10, 1, TensorOptions{.dtype = kF32}).reshape({1, 3, 3}); }
}  // namespace

TEST_CASE("Normalize subtracts the mean and divides by the std per channel", "[data]") {
  const Tensor x = tensor({{{1.0, 2.0}}, {{3.0, 5.0}}});  // (2,1,2)
  const Normalize n({1.0f, 3.0f}, {2.0f, 4.0f});
  const Tensor y = n(x, 0, 0, 0);
  CHECK(y.sizes() == Shape{2, 1, 2});
  CHECK(y.tolist<float>() == std::vector<float>{0.0f, 0.5f, 0.0f, 0.5f});
  CHECK(Normalize({1.0f}, {0.5f})(x, 0, 0, 0).tolist<float>() == std::vector<float>{0.0f, 2.0f, 4.0f, 8.0f});
  CHECK_THROWS_WITH(Normalize({0.f, 0.f, 0.f}, {1.f, 1.f, 1.f})(x, 0, 0, 0),
                    Catch::Contains("[normalize] 3 channel means") && Catch::Contains("2 channels"));
  CHECK_THROWS_WITH(Normalize({0.f}, {0.f}), Catch::Contains("[normalize] std values must be positive"));
}

TEST_CASE("RandomCrop with padding takes the window at the drawn offsets of the zero-padded image", "[data]") {
  const Tensor x = three_by_three();
  const RandomCrop crop(3, 1);  // padded to 5x5: offsets top, left in [0, 2]
  CHECK(crop.output_shape(Shape{1, 3, 3}) == Shape{1, 3, 3});
  // The two corners, by hand.
  const std::vector<float> at_00 = {0, 0, 0, 0, 1, 2, 0, 4, 5}, at_22 = {5, 6, 0, 8, 9, 0, 0, 0, 0};
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int64_t index = 0; index < 200; ++index) {
    RandomStream replay = RandomStream::for_sample(11, 2, index);
    const int64_t top = replay.below(3), left = replay.below(3);
    seen.insert({top, left});
    const std::vector<float> y = crop(x, 11, 2, index).tolist<float>();
    std::vector<float> expected;
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t c = 0; c < 3; ++c) {
        const int64_t sr = top + r - 1, sc = left + c - 1;
        expected.push_back(sr >= 0 && sr < 3 && sc >= 0 && sc < 3 ? static_cast<float>(sr * 3 + sc + 1) : 0.0f);
      }
    INFO("index " << index << ", offsets " << top << ", " << left);
    REQUIRE(y == expected);
    if (top == 0 && left == 0) CHECK(y == at_00);
    if (top == 2 && left == 2) CHECK(y == at_22);
  }
  CHECK(seen.size() == 9);
}

TEST_CASE("RandomCrop to a smaller size, and its shape errors", "[data]") {
  const Tensor x = arange(0, 2 * 4 * 5, 1, TensorOptions{.dtype = kF32}).reshape({2, 4, 5});
  const RandomCrop crop(2, 3, 0);
  RandomStream replay = RandomStream::for_sample(1, 0, 7);
  const int64_t top = replay.below(3), left = replay.below(3);
  const Tensor y = crop(x, 1, 0, 7);
  CHECK(y.sizes() == Shape{2, 2, 3});
  CHECK(equal_bits(y, x.narrow(1, top, 2).narrow(2, left, 3).contiguous()));
  // With padding, the crop equals ds::pad then a window.
  const Tensor z = RandomCrop(4, 2)(x, 5, 1, 3);
  RandomStream replay2 = RandomStream::for_sample(5, 1, 3);
  const int64_t t2 = replay2.below(4 + 4 - 4 + 1), l2 = replay2.below(5 + 4 - 4 + 1);
  CHECK(equal_bits(z, pad(x, {2, 2, 2, 2}).narrow(1, t2, 4).narrow(2, l2, 4).contiguous()));
  CHECK_THROWS_WITH(RandomCrop(6, 0)(x, 0, 0, 0), Catch::Contains("[random_crop] a 6x6 crop does not fit"));
  CHECK_THROWS_WITH(RandomCrop(2)(zeros({4, 4}), 0, 0, 0), Catch::Contains("(C,H,W)"));
  CHECK_THROWS_WITH(RandomCrop(2)(zeros({1, 4, 4}, {.dtype = kF64}), 0, 0, 0), Catch::Contains("f32"));
}

TEST_CASE("RandomHorizontalFlip mirrors the width with probability p", "[data]") {
  const Tensor x = tensor({{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}});  // (1,2,3)
  const std::vector<float> flipped = {3, 2, 1, 6, 5, 4};
  CHECK(RandomHorizontalFlip(1.0)(x, 0, 0, 0).tolist<float>() == flipped);
  CHECK(RandomHorizontalFlip(0.0)(x, 0, 0, 0).tolist<float>() == x.tolist<float>());
  int flips = 0;
  for (int64_t index = 0; index < 1000; ++index) {
    RandomStream replay = RandomStream::for_sample(3, 0, index);
    const bool expect_flip = replay.uniform() < 0.5f;
    const std::vector<float> y = RandomHorizontalFlip(0.5)(x, 3, 0, index).tolist<float>();
    REQUIRE(y == (expect_flip ? flipped : x.tolist<float>()));
    flips += expect_flip;
  }
  CHECK(std::abs(flips - 500) < 60);
  CHECK_THROWS_WITH(RandomHorizontalFlip(1.5), Catch::Contains("[random_horizontal_flip]"));
}

TEST_CASE("Compose chains transforms on one stream", "[data]") {
  const Tensor x = three_by_three();
  const Compose c({std::make_shared<RandomCrop>(3, 1), std::make_shared<RandomHorizontalFlip>(0.5),
                   std::make_shared<Normalize>(std::vector<float>{1.0f}, std::vector<float>{2.0f})});
  for (int64_t index = 0; index < 20; ++index) {
    // The crop draws twice, then the flip once, from the same stream.
    RandomStream replay = RandomStream::for_sample(4, 1, index);
    const Tensor cropped = RandomCrop(3, 1)(x, replay);
    const Tensor flipped = RandomHorizontalFlip(0.5)(cropped, replay);
    const Tensor expected = (flipped - 1.0) / 2.0;
    REQUIRE(equal_bits(c(x, 4, 1, index), expected));
  }
  CHECK(c.output_shape(Shape{1, 3, 3}) == Shape{1, 3, 3});
  CHECK(equal_bits(Compose({})(x, 0, 0, 0), x));
}
