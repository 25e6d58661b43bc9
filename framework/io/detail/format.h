#pragma once
// The fixed-size parts of the checkpoint layout, format 1 (checkpoint.h draws the whole file). Internal.
//
//   [0, 8)     magic        89 'D' 'S' 'C' 'K' 0D 0A 0A
//   [8, 12)    version      u32 LE
//   [12, 16)   flags        u32 LE, 0
//   [16, 24)   header_len   u64 LE
//   [24, 24+L) header       protobuf ds.io.pb.Header
//   [24+L, +4) header_crc   u32 LE, CRC32C of [0, 24+L)
//   zero padding up to data_start = align_up(28 + L, 64)
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace ds::io {

static_assert(std::endian::native == std::endian::little,
              "checkpoints store tensor bytes as they are in memory: little-endian hosts only");

// The first byte has the high bit set (a 7-bit channel clears it); CR LF and the lone LF change under any line-ending
// conversion, like PNG's signature.
inline constexpr std::array<unsigned char, 8> kMagic = {0x89, 'D', 'S', 'C', 'K', '\r', '\n', '\n'};
// The newest format this build reads and the one it writes.
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint64_t kPreambleSize = 24;     // magic, version, flags, header_len
inline constexpr uint64_t kHeaderCrcSize = 4;
inline constexpr uint64_t kAlignment = 64;        // of the data section and of every tensor in it

// x rounded up to a multiple of kAlignment; the caller keeps x far from UINT64_MAX (it is bounded by a file size).
constexpr uint64_t align_up(uint64_t x) { return (x + kAlignment - 1) / kAlignment * kAlignment; }

inline void store_u32(unsigned char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void store_u64(unsigned char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint32_t load_u32(const unsigned char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t load_u64(const unsigned char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

struct Preamble {
  std::array<unsigned char, 8> magic{};
  uint32_t version = 0;
  uint32_t flags = 0;
  uint64_t header_len = 0;

  void encode(unsigned char* out) const {
    std::memcpy(out, magic.data(), 8);
    store_u32(out + 8, version);
    store_u32(out + 12, flags);
    store_u64(out + 16, header_len);
  }
  static Preamble decode(const unsigned char* in) {
    Preamble p;
    std::memcpy(p.magic.data(), in, 8);
    p.version = load_u32(in + 8);
    p.flags = load_u32(in + 12);
    p.header_len = load_u64(in + 16);
    return p;
  }
};

}  // namespace ds::io
