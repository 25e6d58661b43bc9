#pragma once
// Helpers shared by the corruption tests of the io formats (checkpoints, safetensors): how a load of a damaged file
// ended, and seeded random damage.
#include <cstdint>
#include <random>
#include <string>

#include "io_test_util.h"

namespace io_test {

// What loading a damaged file gave: a clean error, the original data, other data, or a failure of the loader (a
// non-ds exception, an error without the format's "[tag] <path>: " prefix), described in `what`.
enum class Outcome { error, same, different, other };

struct Result {
  Outcome outcome = Outcome::other;
  std::string what;
};

// Runs load() (returning a StateDict) and sorts its outcome against `expected`; errors must start with `prefix`.
template <typename Load>
Result load_outcome(const std::string& prefix, const ds::StateDict& expected, Load&& load) {
  try {
    const ds::StateDict s = load();
    return {same_state(s, expected) ? Outcome::same : Outcome::different, ""};
  } catch (const ds::Error& e) {
    const std::string what = e.what();
    if (what.rfind(prefix, 0) != 0) return {Outcome::other, "badly prefixed: " + what};
    return {Outcome::error, what};
  } catch (const std::exception& e) {
    return {Outcome::other, std::string("a non-ds exception: ") + e.what()};
  }
}

// Seeded random damage to a file's bytes.
class Damage {
 public:
  explicit Damage(uint64_t seed) : rng_(seed) {}

  // Uniform in [0, n), 0 when n is 0.
  uint64_t below(uint64_t n) { return n == 0 ? 0 : std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  std::string random_bytes(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(below(256));
    return s;
  }

  // Damages b one to three times, each time either generically or, with the weight of `special_kinds` against the
  // generic kinds, by special(b, k) with k in [0, special_kinds): a format's own attacks on its length fields and
  // header. What was done goes to the returned log, " kind@byte" a mutation (special kinds numbered after the
  // generic ones), so that a failure can be replayed.
  template <typename Special>
  std::string mutate(std::string& b, uint64_t special_kinds, Special&& special) {
    std::string log;
    const int n = 1 + static_cast<int>(below(3));
    for (int m = 0; m < n; ++m) {
      const uint64_t kind = below(kGenericKinds + special_kinds), at = below(b.size() + 1);
      log.append(" ").append(std::to_string(kind)).append("@").append(std::to_string(at));
      if (kind < kGenericKinds) generic(b, kind, at);
      else special(b, kind - kGenericKinds);
    }
    return log;
  }

 private:
  // The damage any format must survive, kind 0 to kGenericKinds - 1 at byte `at` (at most b.size()): a flipped bit,
  // a byte overwritten, a run replaced, the file cut, bytes inserted, erased, appended.
  static constexpr uint64_t kGenericKinds = 7;
  void generic(std::string& b, uint64_t kind, uint64_t at) {
    switch (kind) {
      case 0: if (at < b.size()) b[at] = static_cast<char>(b[at] ^ (1 << below(8))); break;
      case 1: if (at < b.size()) b[at] = static_cast<char>(below(256)); break;
      case 2: b.replace(at, std::min<uint64_t>(1 + below(16), b.size() - at), random_bytes(1 + below(16))); break;
      case 3: b.resize(at); break;
      case 4: b.insert(at, random_bytes(1 + below(64))); break;
      case 5: b.erase(at, below(64)); break;
      default: b += random_bytes(1 + below(128)); break;
    }
  }

  std::mt19937_64 rng_;
};

}  // namespace io_test
