#include <ds/data/random_stream.h>

#include <cmath>
#include <numeric>
#include <utility>

#include <ds/core/detail/check.h>
#include <ds/core/rng.h>

namespace ds::data {

namespace {
// SplitMix64's finaliser: spreads nearby inputs (epoch 1, epoch 2) to unrelated keys.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
// Distinct domains keep the shuffle and the transforms of the same (seed, epoch) independent.
constexpr uint64_t kSampleDomain = 0x7361'6D70'6C65'0001ull, kShuffleDomain = 0x7368'7566'666C'0002ull;
// Example `index` owns counters [index << 24, (index + 1) << 24): 64 M words per example, 2^40 examples.
constexpr int kCountersPerSampleLog2 = 24;
}  // namespace

RandomStream RandomStream::for_sample(uint64_t seed, int64_t epoch, int64_t index) {
  return RandomStream(mix(mix(seed ^ kSampleDomain) + static_cast<uint64_t>(epoch)),
                      static_cast<uint64_t>(index) << kCountersPerSampleLog2);
}

RandomStream RandomStream::for_shuffle(uint64_t seed, int64_t epoch) {
  return RandomStream(mix(mix(seed ^ kShuffleDomain) + static_cast<uint64_t>(epoch)), 0);
}

uint32_t RandomStream::next_u32() {
  if (used_ == 4) {
    words_ = philox::draw(key_, counter_++);
    used_ = 0;
  }
  return words_[used_++];
}

uint64_t RandomStream::next_u64() {
  const uint64_t hi = next_u32();
  return (hi << 32) | next_u32();
}

float RandomStream::uniform() { return philox::to_unit_float(next_u32()); }

float RandomStream::normal() {
  const double u1 = (static_cast<double>(next_u32()) + 1.0) * (1.0 / 4294967296.0);  // in (0, 1]: log is finite
  const double u2 = static_cast<double>(next_u32()) * (1.0 / 4294967296.0);
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

int64_t RandomStream::below(int64_t n) {
  DS_CHECK(n >= 1, "random_stream", "below({}) needs n >= 1", n);
  // Lemire's multiply-shift with rejection: unbiased, one multiplication in the common case.
  const auto un = static_cast<uint64_t>(n);
  unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * un;
  auto low = static_cast<uint64_t>(m);
  if (low < un) {
    const uint64_t threshold = (0 - un) % un;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next_u64()) * un;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<int64_t>(m >> 64);
}

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  DS_CHECK(n >= 0, "random_stream", "permutation of a negative length {}", n);
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  RandomStream rng = RandomStream::for_shuffle(seed, epoch);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(rng.below(i + 1))]);
  return p;
}

}  // namespace ds::data
