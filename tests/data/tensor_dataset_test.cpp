// TensorDataset: rows of two tensors, as views and as raw bytes.
#include <catch2/catch.hpp>

#include <ds/data/data.h>

#include "../test_util.h"

using namespace ds;
using namespace ds::data;

TEST_CASE("TensorDataset indexes the first dim of inputs and targets", "[data]") {
  const Tensor x = arange(24, TensorOptions{.dtype = kF32}).reshape({4, 2, 3});
  const Tensor y = tensor({7, 8, 9, 10});
  TensorDataset d(x, y);
  CHECK(d.size() == 4);
  const Example e = d.get(2);
  CHECK(equal_bits(e.input, x[2]));
  CHECK(e.target.item<int64_t>() == 9);
  const SampleSpec s = d.spec();
  CHECK(s.input_shape == Shape{2, 3});
  CHECK(s.target_shape.empty());
  float row[6];
  int64_t target;
  d.read_into(3, s, row, &target);
  CHECK(std::vector<float>(row, row + 6) == x[3].tolist<float>());
  CHECK(target == 10);
  CHECK_THROWS_WITH(d.get(4), Catch::Contains("[tensor_dataset] index 4 out of range"));
  CHECK_THROWS_WITH(d.get(-1), Catch::Contains("out of range"));
}

TEST_CASE("TensorDataset takes non-contiguous tensors and rejects mismatched lengths", "[data]") {
  const Tensor x = arange(6, TensorOptions{.dtype = kF32}).reshape({2, 3}).t();  // (3,2), strided
  TensorDataset d(x, tensor({0, 1, 2}));
  float row[2];
  int64_t target;
  d.read_into(1, d.spec(), row, &target);
  CHECK(row[0] == 1.0f);
  CHECK(row[1] == 4.0f);
  CHECK_THROWS_WITH(TensorDataset(zeros({3, 2}), tensor({0, 1})),
                    Catch::Contains("[tensor_dataset]") && Catch::Contains("[3, 2]") && Catch::Contains("[2]"));
}
