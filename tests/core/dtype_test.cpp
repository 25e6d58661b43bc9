// DType names and PyTorch's promotion table; Half and BFloat16 conversions against the hardware's (F16C) and
// against hand-computed bit patterns.
#include <cmath>
#include <cstring>

#include <catch2/catch.hpp>

#include <ds/ds.h>

#if defined(__F16C__)
#include <immintrin.h>
#endif

using namespace ds;

TEST_CASE("dtype names round-trip in both spellings", "[core]") {
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto t = static_cast<DType>(i);
    CHECK(dtype_from_name(dtype_name(t)) == t);
  }
  CHECK(dtype_from_name("f32") == kF32);
  CHECK(dtype_from_name("bool") == kBool);
  CHECK_THROWS_WITH(dtype_from_name("float128"), Catch::Matchers::Contains("unknown dtype name 'float128'"));
}

TEST_CASE("promote_types follows torch.promote_types", "[core]") {
  CHECK(promote_types(kF32, kF64) == kF64);
  CHECK(promote_types(kF16, kBF16) == kF32);
  CHECK(promote_types(kF16, kF32) == kF32);
  CHECK(promote_types(kI64, kF16) == kF16);
  CHECK(promote_types(kI32, kI64) == kI64);
  CHECK(promote_types(kU8, kI8) == kI32);  // PyTorch: int16, which ds does not have
  CHECK(promote_types(kBool, kU8) == kU8);
  CHECK(promote_types(kBool, kBool) == kBool);
  CHECK(promote_types(kI8, kF64) == kF64);
}

TEST_CASE("result type of mixed ops follows PyTorch's categories", "[core]") {
  const Tensor i = ones({2}, {.dtype = kI64}), f = ones({2}), h = ones({2}, {.dtype = kF16}), d = ones({2}, {.dtype = kF64});
  CHECK((i + 2.5).dtype() == kF32);                 // int tensor + Python float: default float
  CHECK((f + 2).dtype() == kF32);                   // float tensor + int: stays
  CHECK((h + 2.5).dtype() == kF16);                 // a scalar does not widen a tensor of the same kind
  CHECK((f + ones({}, {.dtype = kF64})).dtype() == kF32);  // a 0-d tensor neither
  CHECK((i + ones({}, {.dtype = kF16})).dtype() == kF16);  // ... unless it is of a higher kind
  CHECK((f + d).dtype() == kF64);
  CHECK((i / 2).dtype() == kF32);                   // true division
  CHECK((ones({2}, {.dtype = kBool}) + ones({2}, {.dtype = kBool})).dtype() == kBool);
  CHECK(sum(ones({3}, {.dtype = kI32})).dtype() == kI64);
  CHECK((i > 0.5).dtype() == kBool);
}

TEST_CASE("Half conversions are exact where representable and round to nearest even", "[core]") {
  CHECK(detail::float_to_half_bits(1.0f) == 0x3c00);
  CHECK(detail::float_to_half_bits(-2.0f) == 0xc000);
  CHECK(detail::float_to_half_bits(65504.0f) == 0x7bff);
  CHECK(detail::float_to_half_bits(65520.0f) == 0x7c00);         // rounds up to infinity
  CHECK(detail::float_to_half_bits(1.0f + 1.0f / 2048) == 0x3c00);  // tie rounds to even
  CHECK(detail::float_to_half_bits(1.0f + 3.0f / 2048) == 0x3c02);
  CHECK(detail::float_to_half_bits(5.96046448e-08f) == 0x0001);   // smallest subnormal
  CHECK(std::isnan(detail::half_bits_to_float(detail::float_to_half_bits(NAN))));
  CHECK(detail::half_bits_to_float(0x0001) == 5.9604644775390625e-08f);
  for (uint32_t b = 0; b < 0x10000; ++b) {  // every half: float and back is the identity (NaNs stay NaN)
    const float f = detail::half_bits_to_float(static_cast<uint16_t>(b));
    if (std::isnan(f)) continue;
    REQUIRE(detail::float_to_half_bits(f) == b);
  }
#if defined(__F16C__)
  uint32_t seed = 12345;
  for (int i = 0; i < 200000; ++i) {  // against the hardware conversion
    seed = seed * 1664525u + 1013904223u;
    float f;
    const uint32_t bits = (seed & 0x8fffffffu) | 0x30000000u;  // magnitudes around the half range
    std::memcpy(&f, &bits, 4);
    const auto hw = static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
    REQUIRE(detail::float_to_half_bits(f) == hw);
    REQUIRE(detail::half_bits_to_float(hw) == _cvtsh_ss(hw));
  }
#endif
}

TEST_CASE("BFloat16 conversions round to nearest even", "[core]") {
  CHECK(detail::float_to_bf16_bits(1.0f) == 0x3f80);
  CHECK(detail::bf16_bits_to_float(0x3f80) == 1.0f);
  float f;
  uint32_t bits = 0x3f808000u;  // exactly halfway between 0x3f80 and 0x3f81: rounds to even (0x3f80)
  std::memcpy(&f, &bits, 4);
  CHECK(detail::float_to_bf16_bits(f) == 0x3f80);
  bits = 0x3f818000u;  // halfway between 0x3f81 and 0x3f82: rounds to even (0x3f82)
  std::memcpy(&f, &bits, 4);
  CHECK(detail::float_to_bf16_bits(f) == 0x3f82);
  CHECK(std::isnan(detail::bf16_bits_to_float(detail::float_to_bf16_bits(NAN))));
}

TEST_CASE("16-bit tensors are stored in 16 bits and computed in float", "[core]") {
  const Tensor h = tensor({1.0, 2.0, 3.0}).to(kF16);
  CHECK(h.element_size() == 2);
  CHECK(h.nbytes() == 6);
  CHECK((h * 2).dtype() == kF16);
  CHECK((h * 2).tolist<float>() == std::vector<float>{2, 4, 6});
  const Tensor b = full({4}, 1.0 / 3.0, {.dtype = kBF16});
  CHECK(b.to(kF32).tolist<float>()[0] == BFloat16(1.0f / 3.0f));
}
