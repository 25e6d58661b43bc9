// GPT-2's byte <-> character mapping and pre-tokenisation regex, against values worked out by hand from the regex
// (tests/data/bpe_tokenizer_test.cpp compares the same strings with Hugging Face's pre-tokenizer where installed).
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <ds/data/byte_level.h>

using namespace ds::data;

namespace {
std::vector<std::string> pieces(std::string_view text) {
  std::vector<std::string> out;
  for (const std::string_view p : pre_tokenize(text)) out.emplace_back(p);
  return out;
}
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("byte_to_unicode is GPT-2's table", "[text]") {
  const auto& t = byte_to_unicode();
  CHECK(t['!'] == U'!');
  CHECK(t['~'] == U'~');
  CHECK(t[0xA1] == 0xA1);
  CHECK(t[0xFF] == 0xFF);
  CHECK(t[0x00] == 0x100);   // the first unprintable byte
  CHECK(t[' '] == 0x120);    // 'Ġ': 32 bytes 0x00..0x1F come before it
  CHECK(t['\n'] == 0x10A);   // 'Ċ'
  CHECK(t[0x7F] == 0x121);   // DEL follows space
  CHECK(t[0xAD] == 0x143);   // the soft hyphen is the last of the 68
  CHECK(bytes_to_unicode_text(" the\n") == "\xC4\xA0the\xC4\x8A");  // "Ġthe" "Ċ"
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string back;
  REQUIRE(unicode_text_to_bytes(bytes_to_unicode_text(all), back));
  CHECK(back == all);
  back.clear();
  CHECK_FALSE(unicode_text_to_bytes("\xC5\x84", back));  // U+0144 spells no byte
  back.clear();
  CHECK_FALSE(unicode_text_to_bytes("\xFF", back));  // not UTF-8
}

TEST_CASE("pre_tokenize: words, contractions, digits and punctuation", "[text]") {
  CHECK(pieces("Hello world") == V{"Hello", " world"});
  CHECK(pieces("I'm don't they're we've you'll he'd it's") ==
        V{"I", "'m", " don", "'t", " they", "'re", " we", "'ve", " you", "'ll", " he", "'d", " it", "'s"});
  // Contractions are lower-case only; a quote that starts none joins the punctuation run.
  CHECK(pieces("IT'S") == V{"IT", "'", "S"});
  CHECK(pieces("'hello'") == V{"'", "hello", "'"});
  CHECK(pieces("x?'s") == V{"x", "?'", "s"});
  CHECK(pieces("abc123def 4567 8.5") == V{"abc", "123", "def", " 4567", " 8", ".", "5"});
  CHECK(pieces("Hello , world !") == V{"Hello", " ,", " world", " !"});
  CHECK(pieces("end...\"") == V{"end", "...\""});
  CHECK(pieces("") == V{});
}

TEST_CASE("pre_tokenize: runs of spaces and newlines", "[text]") {
  // A run of whitespace before a word gives its last space to the word.
  CHECK(pieces("a   b") == V{"a", "  ", " b"});
  CHECK(pieces("a   ") == V{"a", "   "});
  CHECK(pieces("   a") == V{"  ", " a"});
  CHECK(pieces("x  !") == V{"x", " ", " !"});
  CHECK(pieces("a\n\nb") == V{"a", "\n", "\n", "b"});
  CHECK(pieces("a \nb") == V{"a", " ", "\n", "b"});
  CHECK(pieces("a\n b") == V{"a", "\n", " b"});
  CHECK(pieces("a\t\tb") == V{"a", "\t", "\t", "b"});
  CHECK(pieces("a \n") == V{"a", " \n"});
}

TEST_CASE("pre_tokenize: non-ASCII letters, numbers, spaces and invalid bytes", "[text]") {
  CHECK(pieces("caf\xC3\xA9 na\xC3\xAFve") == V{"caf\xC3\xA9", " na\xC3\xAFve"});            // café naïve
  CHECK(pieces("\xCE\x9A\xCE\xB1\xCE\xBB\xCE\xAE \xCE\xBC\xCE\xAD\xCF\x81\xCE\xB1") ==     // Καλή μέρα
        V{"\xCE\x9A\xCE\xB1\xCE\xBB\xCE\xAE", " \xCE\xBC\xCE\xAD\xCF\x81\xCE\xB1"});
  CHECK(pieces("\xD0\x9C\xD0\xB8\xD1\x80!") == V{"\xD0\x9C\xD0\xB8\xD1\x80", "!"});         // Мир!
  CHECK(pieces("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E") == V{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"});  // 日本語
  CHECK(pieces("x \xC2\xBD \xD9\xA3\xD9\xA4") == V{"x", " \xC2\xBD", " \xD9\xA3\xD9\xA4"});  // ½ and ٣٤ are numbers
  // NBSP is whitespace but not ' ': it never joins the next word.
  CHECK(pieces("a\xC2\xA0" "b") == V{"a", "\xC2\xA0", "b"});
  CHECK(pieces("ok \xF0\x9F\x91\x8D!") == V{"ok", " \xF0\x9F\x91\x8D!"});  // an emoji is punctuation-like
  // Invalid UTF-8 bytes are characters of the "other" class; the pieces still rebuild the text.
  CHECK(pieces("a\xFF\xFE" "b \xC3") == V{"a", "\xFF\xFE", "b", " \xC3"});
}
