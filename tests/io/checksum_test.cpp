// CRC32C: the published check values (RFC 3720's iSCSI vectors), continuation, and the crc32-instruction path
// against the portable one on every length and misalignment up to a few words.
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "framework/io/detail/checksum.h"

using ds::io::crc32c;
using ds::io::crc32c_portable;

TEST_CASE("crc32c matches the published check values", "[io]") {
  const std::string check = "123456789";
  std::vector<unsigned char> zeros(32, 0x00), ones(32, 0xff), up(32), down(32);
  std::iota(up.begin(), up.end(), 0);
  std::iota(down.rbegin(), down.rend(), 0);
  for (auto* f : {&crc32c, &crc32c_portable}) {
    CHECK(f(check.data(), check.size(), 0) == 0xE3069283u);
    CHECK(f(zeros.data(), 32, 0) == 0x8A9136AAu);
    CHECK(f(ones.data(), 32, 0) == 0x62A8AB43u);
    CHECK(f(up.data(), 32, 0) == 0x46DD794Eu);
    CHECK(f(down.data(), 32, 0) == 0x113FDB5Cu);
    CHECK(f(nullptr, 0, 0) == 0u);
  }
}

TEST_CASE("crc32c continues across pieces and agrees with the portable code", "[io]") {
  std::mt19937 rng(3);
  std::vector<unsigned char> buf(4096 + 16);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t n = 0; n < 70; ++n) {
      const unsigned char* p = buf.data() + offset;
      INFO("offset " << offset << ", length " << n);
      const uint32_t whole = crc32c(p, n);
      REQUIRE(whole == crc32c_portable(p, n));
      const size_t cut = n / 3;
      REQUIRE(crc32c(p + cut, n - cut, crc32c(p, cut)) == whole);
    }
  }
  CHECK(crc32c(buf.data(), 4096) == crc32c_portable(buf.data(), 4096));
}
