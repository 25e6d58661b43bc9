// Generated data sets: shapes, labels, reproducibility, and that their classes are learnable (separable).
#include <catch2/catch.hpp>

#include <ds/data/data.h>

#include "../test_util.h"

using namespace ds;
using namespace ds::data;

TEST_CASE("generated sets have the documented shapes and cycling labels", "[data]") {
  const TensorDataset blobs = make_blobs(30, 3, 5, 1);
  CHECK(blobs.inputs().sizes() == Shape{30, 5});
  CHECK(blobs.targets().sizes() == Shape{30});
  CHECK(blobs.targets().tolist<int64_t>()[4] == 1);
  const TensorDataset spirals = make_spirals(20, 4, 1);
  CHECK(spirals.inputs().sizes() == Shape{20, 2});
  CHECK(spirals.inputs().abs().max().item<float>() <= 1.0f);
  const TensorDataset images = make_pattern_images(12, 4, 3, 8, 10, 1);
  CHECK(images.inputs().sizes() == Shape{12, 3, 8, 10});
  CHECK(images.targets().tolist<int64_t>()[11] == 3);
  CHECK_THROWS_WITH(make_blobs(10, 0, 2, 1), Catch::Contains("[make_blobs]"));
}

TEST_CASE("generated sets depend on the seed only, and example i on (seed, i) only", "[data]") {
  CHECK(equal_bits(make_pattern_images(16, 4, 1, 6, 6, 7).inputs(), make_pattern_images(16, 4, 1, 6, 6, 7).inputs()));
  CHECK_FALSE(equal_bits(make_blobs(16, 2, 2, 7).inputs(), make_blobs(16, 2, 2, 8).inputs()));
  // A longer set starts with the shorter one.
  CHECK(equal_bits(make_spirals(40, 3, 5).inputs().narrow(0, 0, 10), make_spirals(10, 3, 5).inputs()));
}

TEST_CASE("generated image classes are told apart by their templates", "[data]") {
  // Nearest class mean (of a noise-free, unshifted training set) classifies noisy shifted examples well: the set
  // has learnable structure.
  const int64_t k = 5;
  const Tensor clean = make_pattern_images(k, k, 1, 12, 12, 3, 0.0f, 0).inputs().reshape({k, 144});
  const TensorDataset noisy = make_pattern_images(200, k, 1, 12, 12, 3, 0.3f, 1);
  const Tensor x = noisy.inputs().reshape({200, 144});
  // Squared distance of every example to every template: (200, k).
  const Tensor d = (x.unsqueeze(1) - clean.unsqueeze(0)).square().sum({2});
  const std::vector<int64_t> pred = d.argmin(1).tolist<int64_t>(), truth = noisy.targets().tolist<int64_t>();
  int correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
  CHECK(correct >= 120);  // chance is 40
}
