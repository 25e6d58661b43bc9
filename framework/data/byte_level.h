#pragma once
// The two fixed pieces of GPT-2's byte-level BPE (and of Hugging Face tokenizers' ByteLevel pre-tokenizer and
// decoder): the byte <-> printable-character mapping in which tokens are spelled, and the pre-tokenisation regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// implemented by hand over UTF-8 code points (leftmost alternative first, as a backtracking regex engine matches).
// \p{L} and \p{N} cover every code point of the Unicode version in detail/unicode_tables.cpp (14.0, from Python's
// unicodedata; Hugging Face's Oniguruma may know a few characters added since); \s is the White_Space property.
// The contractions are ASCII and case-sensitive, as in GPT-2 ("'S" is not one). Bytes that are not valid UTF-8
// count as single characters of the "other" class (neither letter, number nor space), so any byte string splits.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ds::data {

// GPT-2's bytes_to_unicode(): the 188 printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) map to the code point of
// the same number, the other 68 bytes in increasing order to U+0100, U+0101, ... (so ' ' -> U+0120 'Ġ', '\n' ->
// U+010A 'Ċ'). Sorting these 256 code points gives GPT-2's first 256 vocabulary entries.
const std::array<char32_t, 256>& byte_to_unicode();

// `bytes` spelled as vocab.json spells tokens: each byte replaced by its byte_to_unicode() character, in UTF-8.
std::string bytes_to_unicode_text(std::string_view bytes);

// The inverse of bytes_to_unicode_text: appends the bytes that `text` spells to `out`; false (out then holds a
// prefix) when text is not valid UTF-8 or has a character that is not in byte_to_unicode().
bool unicode_text_to_bytes(std::string_view text, std::string& out);

// The end (a byte offset) of the pre-token that starts at byte `pos` < text.size(): the regex's match there.
size_t pre_token_end(std::string_view text, size_t pos);

// Splits text into GPT-2's pre-tokens, in order; they are views of `text` and concatenate back to it.
std::vector<std::string_view> pre_tokenize(std::string_view text);

}  // namespace ds::data
