// The Dataset interface's defaults (spec from get(0), read_into through get) and collate.
#include <stdexcept>

#include <catch2/catch.hpp>

#include <ds/data/data.h>

#include "../test_util.h"

using namespace ds;
using namespace ds::data;

namespace {
// input: (2,3) f64 filled with the index; target: () i64 = index. Uses every default of Dataset.
class Filled : public Dataset {
 public:
  int64_t size() const override { return 5; }
  Example get(int64_t i) const override {
    check_index(i, size(), "filled");
    return {full({2, 3}, static_cast<double>(i), {.dtype = kF64}), scalar_tensor(i, {.dtype = kI64})};
  }
};
// Example 2 has a different shape from the others.
class Ragged : public Filled {
 public:
  Example get(int64_t i) const override {
    Example e = Filled::get(i);
    if (i == 2) e.input = zeros({3, 3}, {.dtype = kF64});
    return e;
  }
};
}  // namespace

TEST_CASE("Dataset::spec defaults to the shapes of example 0", "[data]") {
  const SampleSpec s = Filled().spec();
  CHECK(s.input_shape == Shape{2, 3});
  CHECK(s.input_dtype == kF64);
  CHECK(s.target_shape.empty());
  CHECK(s.target_dtype == kI64);
}

TEST_CASE("Dataset::read_into copies an example's bytes and checks its shape", "[data]") {
  Filled d;
  double in[6] = {};
  int64_t target = -1;
  d.read_into(4, d.spec(), in, &target);
  for (double v : in) CHECK(v == 4.0);
  CHECK(target == 4);
  Ragged r;
  double big[9];
  CHECK_THROWS_WITH(r.read_into(2, r.spec(), big, &target),
                    Catch::Contains("[dataset] example 2") && Catch::Contains("[3, 3]") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_WITH(d.get(5), Catch::Contains("[filled] index 5 out of range for a dataset of 5 examples"));
}

TEST_CASE("collate stacks examples along a new first dim", "[data]") {
  Filled d;
  const std::vector<Example> examples = {d.get(3), d.get(1)};
  const Batch b = collate(examples);
  CHECK(b.input.sizes() == Shape{2, 2, 3});
  CHECK(b.target.tolist<int64_t>() == std::vector<int64_t>{3, 1});
  CHECK(equal_bits(b.input, stack({d.get(3).input, d.get(1).input})));
  const std::vector<Example> ragged = {d.get(0), Ragged().get(2)};
  CHECK_THROWS_WITH(collate(ragged), Catch::Contains("example 1"));
  CHECK_THROWS_WITH(collate({}), Catch::Contains("[collate]"));
}
