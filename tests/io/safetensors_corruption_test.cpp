// Damaged safetensors files: truncation at every byte, a flipped bit at every position, and thousands of mutated files
// (flips, overwrites, truncations, insertions, hostile length fields and JSON fragments). The format has no checksums,
// so a damaged file may load with other values; what may never happen is a crash, another exception, or an error
// without the "[safetensors] <path>: " prefix. The asan preset runs this file under AddressSanitizer and UBSan.
#include <cstring>
#include <limits>

#include <catch2/catch.hpp>

#include <ds/io/safetensors.h>

#include "fuzz_util.h"

using namespace ds;
using io_test::Outcome;
using io_test::Result;
using io_test::TempDir;

namespace {

// Writes bytes to path and loads them; when the load succeeds, reading the header alone must succeed too.
Result try_load(const std::string& path, const std::string& bytes, const StateDict& expected) {
  io_test::write_bytes(path, bytes);
  return io_test::load_outcome("[safetensors] " + path + ": ", expected, [&] {
    StateDict s = load_safetensors(path);
    read_safetensors_info(path);
    return s;
  });
}

StateDict small_tensors() {
  StateDict s;
  s.set("w", from_vector<float>({1.5f, -2, 3, 4, 5, 6}, {2, 3}));
  s.set("idx", from_vector<int64_t>({7, -8, 9}));
  s.set("mask", from_vector<bool>({true, false, true}));
  s.set("h", from_vector<float>({0.5f, 2}).to(kBF16));
  s.set("empty", empty({0, 4}, {.dtype = kF16}));
  return s;
}

}  // namespace

TEST_CASE("a safetensors file truncated at any byte is an error", "[io][safetensors][corruption]") {
  TempDir dir(TempDir::kInMemory);
  const std::string path = dir.file("t.safetensors");
  const StateDict state = small_tensors();
  save_safetensors(path, state, {{"format", "pt"}});
  const std::string bytes = io_test::read_bytes(path);
  REQUIRE(bytes.size() > 300);
  for (size_t n = 0; n < bytes.size(); ++n) {
    const Result r = try_load(path, bytes.substr(0, n), state);
    if (r.outcome != Outcome::error) FAIL("truncated to " << n << " bytes: " << r.what);
  }
  CHECK(try_load(path, bytes, state).outcome == Outcome::same);
}

TEST_CASE("a single flipped bit anywhere in a safetensors file is an error or loads", "[io][safetensors][corruption]") {
  TempDir dir(TempDir::kInMemory);
  const std::string path = dir.file("f.safetensors");
  const StateDict state = small_tensors();
  save_safetensors(path, state);
  const std::string bytes = io_test::read_bytes(path);
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  int errors = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      const Result r = try_load(path, b, state);
      if (r.outcome == Outcome::other) FAIL("bit " << bit << " of byte " << i << ": " << r.what);
      // No byte is ignored: the padding spaces never flip into other whitespace.
      if (r.outcome == Outcome::same) FAIL("bit " << bit << " of byte " << i << " changed nothing");
      if (i < 8 && r.outcome != Outcome::error) FAIL("bit " << bit << " of the header length was accepted");
      errors += r.outcome == Outcome::error;
    }
  }
  INFO(errors << " errors of " << bytes.size() * 8 << " flips");
  CHECK(errors > static_cast<int>(8 * (8 + header_len)) / 2);  // most flips in the header break it
}

TEST_CASE("thousands of mutated safetensors files give only clean errors or tensors",
          "[io][safetensors][corruption][fuzz]") {
  TempDir dir(TempDir::kInMemory);
  const std::string path = dir.file("z.safetensors");
  const StateDict state = small_tensors();
  save_safetensors(path, state, {{"a", "b"}});
  const std::string original = io_test::read_bytes(path);
  constexpr uint64_t kSeed = 20250214;
  io_test::Damage damage(kSeed);
  auto below = [&](uint64_t n) { return damage.below(n); };
  // Pieces of JSON that reach the checks behind the parser when spliced into the header.
  const char* fragments[] = {"{", "}", "[", "]", ",", ":", "\"", "-1", "0", "1e400", "18446744073709551615",
                             "18446744073709551616", "null", "true", "\"F32\"", "\"I16\"", "\"BOOL\"", "[0,0]",
                             "[[[[[[", "\"__metadata__\"", "\"w\"", "\"shape\"", "\"data_offsets\"", "\\u0000",
                             "\\ud800", "\xc3\x28", "\xf0\x9f\x98\x80", " "};
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  int loaded = 0, failures = 0;
  constexpr int kIterations = 10000;
  for (int it = 0; it < kIterations && failures < 5; ++it) {
    std::string b = original;
    const std::string log = damage.mutate(b, 3, [&](std::string& b, uint64_t kind) {
      uint64_t header_len = 0;
      if (b.size() >= 8) std::memcpy(&header_len, b.data(), 8);
      const uint64_t header_end = std::min<uint64_t>(b.size(), 8 + std::min<uint64_t>(header_len, b.size()));
      switch (kind) {
        case 0: {  // the header length
          const uint64_t s = b.size();
          const uint64_t v[] = {kMax, kMax - 7, uint64_t{1} << 63, s, s - 8, s - 9, s + 1, 100'000'001, 0, 1,
                                below(s + 64)};
          if (s >= 8) {
            const uint64_t x = v[below(std::size(v))];
            std::memcpy(b.data(), &x, 8);
          }
          break;
        }
        case 1:  // a JSON fragment over or into the header, its length fixed so that the parser sees it
        case 2: {
          if (header_end <= 8) break;
          const std::string f = fragments[below(std::size(fragments))];
          const uint64_t p = 8 + below(header_end - 8);
          if (kind == 1) b.replace(p, std::min<uint64_t>(f.size(), header_end - p), f);
          else b.insert(p, f);
          const uint64_t len = header_len + (kind == 2 ? f.size() : 0);
          std::memcpy(b.data(), &len, 8);
          break;
        }
      }
    });
    const Result r = try_load(path, b, state);
    if (r.outcome == Outcome::other) {
      ++failures;
      FAIL_CHECK("seed " << kSeed << ", iteration " << it << ", mutations" << log << ": " << r.what);
    }
    loaded += r.outcome != Outcome::error;
  }
  INFO(loaded << " of " << kIterations << " mutated files loaded");
  CHECK(failures == 0);
}
