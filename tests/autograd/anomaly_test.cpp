// Anomaly mode's forward half: the first op that turns finite inputs into a NaN or an infinity is named; ops fed a
// NaN from upstream are not blamed; off, nothing is checked.
#include <cmath>

#include <catch2/catch.hpp>

#include <ds/ds.h>

using namespace ds;

TEST_CASE("anomaly mode names the forward op that produced the first NaN", "[autograd][anomaly]") {
  const Tensor x = tensor({1.0, -1.0, 2.0});
  CHECK_NOTHROW(log(x));  // off: NaN passes silently, as in torch
  {
    DetectAnomalyGuard on;
    CHECK_THROWS_WITH(sqrt(x) * 2, Catch::Contains("[sqrt] produced a NaN or infinity in output 0 from finite inputs ([3])"));
    CHECK_THROWS_WITH(tensor({1.0}) / tensor({0.0}), Catch::Contains("[div] produced a NaN or infinity"));
    // A NaN coming in is not this op's fault.
    const Tensor nan = tensor({std::nan(""), 1.0});
    CHECK_NOTHROW(nan * 2 + 1);
  }
  CHECK_NOTHROW(sqrt(x));
}
