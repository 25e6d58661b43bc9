#pragma once
// Half (IEEE binary16) and BFloat16 storage types. Both are stored in 16 bits and computed in float on the CPU;
// conversions round to nearest even, keep NaN a NaN and saturate to infinity like the hardware does.
#include <bit>
#include <cstdint>
#include <cstring>

namespace ds {

namespace detail {
inline float half_bits_to_float(uint16_t h) noexcept {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do { ++e; mant <<= 1; } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

inline uint16_t float_to_half_bits(float f) noexcept {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x47800000u) return static_cast<uint16_t>(sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u));  // >= 2^16
  if (abs < 0x38800000u) {  // result is subnormal or zero: add 0.5 (magic) to let the FPU round
    const float magic = std::bit_cast<float>(0x3f000000u);  // 0.5
    float v = std::bit_cast<float>(abs) + magic;
    return static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(v) - 0x3f000000u));
  }
  const uint32_t mant_odd = (abs >> 13) & 1u;
  uint32_t r = abs + 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round to nearest even
  return static_cast<uint16_t>(sign | (r >> 13));
}

inline float bf16_bits_to_float(uint16_t b) noexcept { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

inline uint16_t float_to_bf16_bits(float f) noexcept {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}
}  // namespace detail

struct Half {
  uint16_t bits = 0;
  Half() = default;
  Half(float f) noexcept : bits(detail::float_to_half_bits(f)) {}  // NOLINT: implicit like a float
  operator float() const noexcept { return detail::half_bits_to_float(bits); }  // NOLINT
  static Half from_bits(uint16_t b) noexcept { Half h; h.bits = b; return h; }
};

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  BFloat16(float f) noexcept : bits(detail::float_to_bf16_bits(f)) {}  // NOLINT
  operator float() const noexcept { return detail::bf16_bits_to_float(bits); }  // NOLINT
  static BFloat16 from_bits(uint16_t b) noexcept { BFloat16 h; h.bits = b; return h; }
};

}  // namespace ds
