// Damaged checkpoints: truncation at every byte, a flipped bit at every position, and a few thousand mutated files
// (flips, overwrites, truncations, insertions, huge length fields, with and without a repaired header checksum).
// The loader must answer each with a ds::Error "[checkpoint] <path>: ..." or with the original data; never crash,
// never another exception. The asan preset runs this file under AddressSanitizer and UBSan.
#include <cstring>
#include <limits>

#include <catch2/catch.hpp>

#include "framework/io/detail/checksum.h"
#include "fuzz_util.h"

using namespace ds;
using io_test::Outcome;
using io_test::Result;
using io_test::TempDir;

namespace {

// Writes bytes to path, loads them and also verifies them: both must agree on whether the file is good.
Result try_load(const std::string& path, const std::string& bytes, const StateDict& expected) {
  io_test::write_bytes(path, bytes);
  bool verified = true;
  try {
    verify_checkpoint(path);
  } catch (const Error&) {
    verified = false;
  } catch (const std::exception& e) {
    return {Outcome::other, std::string("verify_checkpoint threw a non-ds exception: ") + e.what()};
  }
  Result r = io_test::load_outcome("[checkpoint] " + path + ": ", expected, [&] { return load_checkpoint(path); });
  if (r.outcome != Outcome::other && verified != (r.outcome == Outcome::same || r.outcome == Outcome::different))
    r = {Outcome::other, "verify_checkpoint and load_checkpoint disagree: " + r.what};
  return r;
}

uint64_t header_end(const std::string& bytes) {  // 24 + L + 4, from a well-formed file
  uint64_t len;
  std::memcpy(&len, bytes.data() + 16, 8);
  return 24 + len + 4;
}

}  // namespace

TEST_CASE("a checkpoint truncated at any byte is an error", "[io][corruption]") {
  TempDir dir(TempDir::kInMemory);
  const std::string path = dir.file("t.dsckpt");
  const StateDict state = io_test::small_state();
  save_checkpoint(path, state);
  const std::string bytes = io_test::read_bytes(path);
  REQUIRE(bytes.size() > 500);
  for (size_t n = 0; n < bytes.size(); ++n) {
    const Result r = try_load(path, bytes.substr(0, n), state);
    if (r.outcome != Outcome::error) FAIL("truncated to " << n << " bytes: " << r.what);
  }
  const Result whole = try_load(path, bytes, state);
  CHECK(whole.outcome == Outcome::same);
  CHECK(try_load(path, bytes.substr(0, bytes.size() - 1), state).what.find("truncated") != std::string::npos);
}

TEST_CASE("a single flipped bit anywhere is an error, or harmless padding", "[io][corruption]") {
  TempDir dir(TempDir::kInMemory);
  const std::string path = dir.file("f.dsckpt");
  const StateDict state = io_test::small_state();
  save_checkpoint(path, state);
  const std::string bytes = io_test::read_bytes(path);
  const uint64_t protected_end = header_end(bytes);
  int errors = 0, harmless = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      const Result r = try_load(path, b, state);
      if (r.outcome == Outcome::error) {
        ++errors;
      } else if (r.outcome == Outcome::same && i >= protected_end) {
        ++harmless;  // padding between the header and the data, or between tensors
      } else {
        FAIL("bit " << bit << " of byte " << i << ": " << (r.outcome == Outcome::same ? "ignored" : r.what));
      }
    }
  }
  INFO(errors << " errors, " << harmless << " harmless");
  CHECK(harmless < static_cast<int>(bytes.size()) * 8 / 2);
  CHECK(errors > 0);
}

TEST_CASE("thousands of mutated checkpoints give only ds::Error or good data", "[io][corruption][fuzz]") {
  TempDir dir(TempDir::kInMemory);
  const std::string path = dir.file("z.dsckpt");
  const StateDict state = io_test::small_state();
  save_checkpoint(path, state);
  const std::string original = io_test::read_bytes(path);
  constexpr uint64_t kSeed = 20240611;
  io_test::Damage damage(kSeed);
  auto below = [&](uint64_t n) { return damage.below(n); };
  auto put_u64 = [](std::string& b, size_t at, uint64_t v) {
    if (b.size() >= at + 8) std::memcpy(b.data() + at, &v, 8);
  };
  auto put_u32 = [](std::string& b, size_t at, uint32_t v) {
    if (b.size() >= at + 4) std::memcpy(b.data() + at, &v, 4);
  };
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  int loaded = 0, failures = 0;
  constexpr int kIterations = 10000;
  for (int it = 0; it < kIterations && failures < 5; ++it) {
    std::string b = original;
    const std::string log = damage.mutate(b, 4, [&](std::string& b, uint64_t kind) {
      switch (kind) {
        case 0: {  // header_len
          const uint64_t s = b.size();
          const uint64_t v[] = {kMax, kMax - 27, uint64_t{1} << 63, s, s - 27, s - 28, s + 1, uint64_t{1} << 31,
                                (uint64_t{1} << 31) - 1, below(s + 64)};
          put_u64(b, 16, v[below(std::size(v))]);
          break;
        }
        case 1: put_u32(b, 8, static_cast<uint32_t>(below(3) == 0 ? below(1ull << 32) : below(3))); break;
        case 2: put_u32(b, 12, static_cast<uint32_t>(1u << below(32))); break;
        case 3: {  // a varint in the header made huge: ten 0xff-ish bytes
          const uint64_t end = std::min<uint64_t>(header_end(original), b.size());
          if (end > 24) {
            const uint64_t p = 24 + below(end - 24);
            for (uint64_t k = p; k < std::min<uint64_t>(p + 1 + below(10), b.size()); ++k) b[k] = '\xff';
          }
          break;
        }
      }
    });
    // Half the time, repair the header checksum so that the checks behind it (protobuf, entries) are reached.
    bool repaired = false;
    if (below(2) == 0 && b.size() >= 28) {
      uint64_t len;
      std::memcpy(&len, b.data() + 16, 8);
      if (len <= b.size() - 28) {
        const uint32_t crc = io::crc32c(b.data(), 24 + len);
        std::memcpy(b.data() + 24 + len, &crc, 4);
        repaired = true;
      }
    }
    const Result r = try_load(path, b, state);
    const bool ok = r.outcome == Outcome::error || r.outcome == Outcome::same ||
                    (repaired && r.outcome == Outcome::different);
    if (!ok) {
      ++failures;
      FAIL_CHECK("seed " << kSeed << ", iteration " << it << ", mutations" << log << (repaired ? " (repaired)" : "")
                         << ": " << (r.outcome == Outcome::different ? "loaded different data" : r.what));
    }
    if (r.outcome != Outcome::error) ++loaded;
  }
  INFO(loaded << " of " << kIterations << " mutated files loaded");
  CHECK(failures == 0);
}
