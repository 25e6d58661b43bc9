#include <ds/data/byte_level.h>

#include "detail/unicode.h"

namespace ds::data {

namespace {
using detail::decode_utf8;

bool printable_byte(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

// Code points U+0000..U+0143 -> byte, or -1 for a code point that spells no byte.
constexpr char32_t kMappedEnd = 0x144;
const std::array<int, kMappedEnd>& unicode_to_byte() {
  static const std::array<int, kMappedEnd> table = [] {
    std::array<int, kMappedEnd> t;
    t.fill(-1);
    for (int b = 0; b < 256; ++b) t[byte_to_unicode()[static_cast<size_t>(b)]] = b;
    return t;
  }();
  return table;
}

enum class CharClass { kLetter, kNumber, kSpace, kOther };
CharClass classify(char32_t cp) {
  if (detail::is_letter(cp)) return CharClass::kLetter;
  if (detail::is_number(cp)) return CharClass::kNumber;
  if (detail::is_whitespace(cp)) return CharClass::kSpace;
  return CharClass::kOther;  // invalid UTF-8 bytes land here too
}

// The end of the run of characters of class `c` that starts at `pos` (pos itself may already be the end).
size_t run_end(std::string_view text, size_t pos, CharClass c) {
  size_t len = 0;
  while (pos < text.size() && classify(decode_utf8(text, pos, len)) == c) pos += len;
  return pos;
}

// 's 't 'm 'd (3 bytes with the quote: 2) and 're 've 'll (3); 0 when none starts at pos.
size_t contraction_length(std::string_view text, size_t pos) {
  const std::string_view rest = text.substr(pos);
  if (rest.size() >= 2 && (rest[1] == 's' || rest[1] == 't' || rest[1] == 'm' || rest[1] == 'd')) return 2;
  if (rest.size() >= 3 && (rest.substr(1, 2) == "re" || rest.substr(1, 2) == "ve" || rest.substr(1, 2) == "ll")) {
    return 3;
  }
  return 0;
}
}  // namespace

const std::array<char32_t, 256>& byte_to_unicode() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) t[static_cast<size_t>(b)] = printable_byte(b) ? static_cast<char32_t>(b) : next++;
    return t;
  }();
  return table;
}

std::string bytes_to_unicode_text(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) detail::append_utf8(byte_to_unicode()[static_cast<unsigned char>(c)], out);
  return out;
}

bool unicode_text_to_bytes(std::string_view text, std::string& out) {
  size_t len = 0;
  for (size_t pos = 0; pos < text.size(); pos += len) {
    const char32_t cp = decode_utf8(text, pos, len);
    if (cp >= kMappedEnd || unicode_to_byte()[cp] < 0) return false;  // kInvalidCodePoint is >= kMappedEnd
    out += static_cast<char>(unicode_to_byte()[cp]);
  }
  return true;
}

size_t pre_token_end(std::string_view text, size_t pos) {
  size_t len0 = 0;
  const char32_t c0 = decode_utf8(text, pos, len0);
  // 's|'t|'re|'ve|'m|'ll|'d
  if (c0 == '\'') {
    if (const size_t n = contraction_length(text, pos)) return pos + n;
  }
  // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+' with the optional space taken: the class of the next character
  // decides which alternative matches, and each takes the longest run of its class.
  if (c0 == ' ' && pos + 1 < text.size()) {
    size_t len1 = 0;
    const CharClass c1 = classify(decode_utf8(text, pos + 1, len1));
    if (c1 != CharClass::kSpace) return run_end(text, pos + 1, c1);
  }
  const CharClass c = classify(c0);
  if (c != CharClass::kSpace) return run_end(text, pos, c);
  // '\s+(?!\S)': the whitespace run, less its last character when a non-space follows (that last character then
  // starts the next pre-token, e.g. " word"); '\s+' when the run is that one character.
  size_t end = pos, last = pos, len = 0;
  while (end < text.size() && classify(decode_utf8(text, end, len)) == CharClass::kSpace) {
    last = end;
    end += len;
  }
  if (end == text.size() || last == pos) return end;
  return last;
}

std::vector<std::string_view> pre_tokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  pieces.reserve(text.size() / 4);
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = pre_token_end(text, pos);
    pieces.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return pieces;
}

}  // namespace ds::data
