#pragma once
// Counter-based random streams for data loading (Philox4x32-10, see <ds/core/rng.h>). A stream is a pure function
// of its key: the shuffle of an epoch depends on (seed, epoch) and the random transforms of an example on
// (seed, epoch, example index), never on the number of worker threads, the order they run in, or a resume.
#include <array>
#include <cstdint>
#include <vector>

namespace ds::data {

class RandomStream {
 public:
  // The stream of the random transforms of example `index` in `epoch`.
  static RandomStream for_sample(uint64_t seed, int64_t epoch, int64_t index);
  // The stream that shuffles `epoch`.
  static RandomStream for_shuffle(uint64_t seed, int64_t epoch);

  uint32_t next_u32();
  uint64_t next_u64();
  // Uniform in [0, 1) with 24 random bits.
  float uniform();
  // Standard normal (Box-Muller on two 32-bit words).
  float normal();
  // Uniform integer in [0, n), unbiased; n >= 1.
  int64_t below(int64_t n);

 private:
  RandomStream(uint64_t key, uint64_t counter) : key_(key), counter_(counter) {}
  uint64_t key_;
  uint64_t counter_;
  std::array<uint32_t, 4> words_{};
  int used_ = 4;  // words of words_ already handed out
};

// A permutation of [0, n) drawn from RandomStream::for_shuffle(seed, epoch) (Fisher-Yates).
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace ds::data
