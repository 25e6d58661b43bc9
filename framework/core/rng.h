#pragma once
// Counter-based random numbers (Philox4x32-10). A generator is a (seed, offset) pair: a random op on n elements
// reserves a block of counters and element i draws from counter offset + i / k, so the numbers depend only on the
// seed and the order of random ops, never on the thread count or the device.
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>

namespace ds {

#if defined(__CUDACC__)
#define DS_HOST_DEVICE __host__ __device__
#else
#define DS_HOST_DEVICE
#endif

struct PhiloxState {
  uint64_t seed = 0;
  uint64_t offset = 0;  // next unused counter
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 67280421310721ull) : state_{seed, 0} {}
  void manual_seed(uint64_t seed) {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = {seed, 0};
  }
  uint64_t seed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_.seed;
  }
  // Reserves `counters` Philox counters and returns the state to draw them from.
  PhiloxState reserve(uint64_t counters) {
    std::lock_guard<std::mutex> lock(mu_);
    PhiloxState s = state_;
    state_.offset += counters;
    return s;
  }
  // The whole state, for checkpoints; set_state restores it exactly.
  PhiloxState state() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }
  void set_state(PhiloxState s) {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = s;
  }
  // Expires when this generator is destroyed: a recorded graph (framework/graph) tells a generator local to the
  // traced function from one that outlives it.
  std::weak_ptr<const int> lifetime() const { return alive_; }

 private:
  mutable std::mutex mu_;
  PhiloxState state_;
  std::shared_ptr<const int> alive_ = std::make_shared<const int>(0);
};

// The process-wide generator that random ops use by default.
Generator& default_generator();
// Seeds the default generator (torch.manual_seed).
void manual_seed(uint64_t seed);

namespace philox {

DS_HOST_DEVICE inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// Four 32-bit random words for (seed, counter).
DS_HOST_DEVICE inline std::array<uint32_t, 4> draw(uint64_t seed, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c0, hi0, lo0);
    mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {c0, c1, c2, c3};
}

// Uniform in [0, 1) with 24 random bits (float) or 53 (double).
DS_HOST_DEVICE inline float to_unit_float(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }
DS_HOST_DEVICE inline double to_unit_double(uint32_t a, uint32_t b) {
  const uint64_t x = (static_cast<uint64_t>(a) << 21) ^ (b >> 11);
  return static_cast<double>(x & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

}  // namespace philox
}  // namespace ds
