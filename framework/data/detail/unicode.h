#pragma once
// The little Unicode that GPT-2's pre-tokenisation needs: UTF-8 decoding and the classes \p{L}, \p{N} and \s.
// Letters and numbers come from generated tables covering every code point of the Unicode version that
// unicode_tables_version() names; whitespace is the White_Space property (what Oniguruma's and Python regex's \s
// match). Internal to data.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ds::data::detail {

struct CodePointRange {
  char32_t first, last;  // inclusive
};

std::span<const CodePointRange> letter_ranges();
std::span<const CodePointRange> number_ranges();
const char* unicode_tables_version();

bool is_letter(char32_t cp);      // general category L*
bool is_number(char32_t cp);      // general category N*
bool is_whitespace(char32_t cp);  // the White_Space property

// Decodes the code point at text[pos], setting `length` to its bytes (1 to 4). A byte that does not start a valid
// UTF-8 sequence (bad lead byte, bad continuation, overlong form, surrogate, past U+10FFFF, cut off by the end) is
// returned alone as kInvalidCodePoint with length 1, so that every byte string can be split and rebuilt exactly.
inline constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;
char32_t decode_utf8(std::string_view text, size_t pos, size_t& length);

// Appends cp (<= U+10FFFF, no surrogate) to out as UTF-8.
void append_utf8(char32_t cp, std::string& out);

}  // namespace ds::data::detail
