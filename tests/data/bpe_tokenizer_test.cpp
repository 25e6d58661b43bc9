// BpeTokenizer: merges learned on toy corpora worked out by hand (Hugging Face BpeTrainer's rules), encoding with
// those merges, round trips (the whole King James text, save/load), special tokens, file errors; and, tagged
// [torch], parity with Hugging Face tokenizers (tests/data/hf_bpe_reference.py) on the whole corpus.
#include <chrono>
#include <cstdlib>
#include <cstring>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <ds/data/bpe_tokenizer.h>
#include <ds/data/byte_level.h>
#include <ds/data/text_corpus.h>

#include "../io/io_test_util.h"
#include "text_test_util.h"

using namespace ds::data;
using io_test::TempDir;
using text_test::bible_text;
using text_test::have_bible;
using Merges = std::vector<BpeTokenizer::Merge>;

namespace {
// Byte token ids without special tokens: the 188 printable bytes by value ('!' = 0), then the others.
int32_t byte_id(unsigned char c) {
  return c >= '!' && c <= '~' ? c - '!' : -1;
}
constexpr int32_t kNewlineId = 188 + 10;  // '\n' is the 11th unprintable byte

// A JSON string of s, which has no quote or backslash (newlines and tabs are escaped).
std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out + "\"";
}
// A JSON list of JSON values, written as Python's json.dump(separators=(",", ":")) writes it.
std::string json_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]";
}
}  // namespace

TEST_CASE("bpe train: merges on a toy corpus, worked out by hand", "[text]") {
  // Words (one per line): low x5, lower x2, newest x6, widest x3. Pair counts: es 9, st 9, we 8, lo 7, ow 7,
  // ne 6, ew 6, wi 3, id 3, de 3, er 2. Ties go to the smaller (left id, right id), i.e. byte order here.
  std::string corpus;
  for (const auto& [word, n] : std::vector<std::pair<std::string, int>>{
           {"low", 5}, {"lower", 2}, {"newest", 6}, {"widest", 3}}) {
    for (int i = 0; i < n; ++i) corpus += word + "\n";
  }
  const BpeTokenizer tok = BpeTokenizer::train(corpus, {.vocab_size = 1000, .min_frequency = 2});
  // es (9, ties st), est (9), lo (7, ties ow; ow then falls to 0), low (7), ew (6: ties ne and w+est, smallest
  // pair), new (6), newest (6), d+est (3: ties wi, id), i+dest (3), w+idest (3), er (2: ties low+e), low+er (2).
  CHECK(tok.merges() == Merges{{"e", "s"}, {"es", "t"}, {"l", "o"}, {"lo", "w"}, {"e", "w"}, {"n", "ew"},
                               {"new", "est"}, {"d", "est"}, {"i", "dest"}, {"w", "idest"}, {"e", "r"},
                               {"low", "er"}});
  CHECK(tok.vocab_size() == 256 + 12);
  CHECK(tok.token_to_id("!") == 0);
  CHECK(tok.token_to_id("es") == 256);
  CHECK(tok.id_to_token(267) == "lower");
  CHECK(tok.id_to_token(kNewlineId) == "\xC4\x8A");  // 'Ċ'

  // min_frequency 3 stops before the pairs seen twice; vocab_size 260 after four merges.
  CHECK(BpeTokenizer::train(corpus, {.vocab_size = 1000, .min_frequency = 3}).merges().size() == 10);
  CHECK(BpeTokenizer::train(corpus, {.vocab_size = 260, .min_frequency = 1}).merges() ==
        Merges{{"e", "s"}, {"es", "t"}, {"l", "o"}, {"lo", "w"}});

  // Encoding applies the merges by rank: lowest -> l o w e s t -> l o w es t -> l o w est -> lo w est -> low est.
  CHECK(tok.encode("lowest\n") == std::vector<int32_t>{259, 257, kNewlineId});
  CHECK(tok.encode("slow") == std::vector<int32_t>{byte_id('s'), 259});
  CHECK(tok.decode(tok.encode("lowest\n")) == "lowest\n");
}

TEST_CASE("bpe train: overlapping pairs and special tokens", "[text]") {
  // "aaaa": (a,a) x3. Merging it left to right gives [aa, aa] and reports (aa,a) +1 -1 and (aa,aa) +1, so the
  // next merge is aa+aa (count 1), after which nothing is left.
  const BpeTokenizer tok = BpeTokenizer::train("aaaa", {.vocab_size = 1000, .min_frequency = 1});
  CHECK(tok.merges() == Merges{{"a", "a"}, {"aa", "aa"}});
  // "aaaaa": a a a a a -> aa aa a (rank 0, leftmost first) -> aaaa a (rank 1).
  CHECK(tok.encode("aaaaa") == std::vector<int32_t>{257, byte_id('a')});

  // Special tokens take the first ids; the byte tokens follow; in text they are matched whole, longest first.
  const BpeTokenizer sp = BpeTokenizer::train(
      "ab ab ab\n", {.vocab_size = 1000, .min_frequency = 2, .special_tokens = {"<|endoftext|>", "<|end"}});
  CHECK(sp.special_ids() == std::vector<int32_t>{0, 1});
  CHECK(sp.token_to_id("!") == 2);
  CHECK(sp.merges().front() == BpeTokenizer::Merge{"a", "b"});  // ab x3 beats Ġa x2
  const int32_t ab = *sp.token_to_id("ab");
  // "<|end" is a prefix of "<|endoftext|>": where both match, the longer wins.
  CHECK(sp.encode("ab<|endoftext|>ab<|end|>") == std::vector<int32_t>{ab, 0, ab, 1, byte_id('|') + 2,
                                                                       byte_id('>') + 2});
  CHECK(sp.decode(sp.encode("ab<|endoftext|>ab")) == "ab<|endoftext|>ab");
  CHECK(sp.decode(sp.encode("ab<|endoftext|>ab"), /*skip_special_tokens=*/true) == "abab");
  CHECK(sp.is_special(0));
  CHECK_FALSE(sp.is_special(2));

  CHECK_THROWS_WITH(BpeTokenizer::train("x", {.vocab_size = 100}), Catch::Contains("[bpe_tokenizer]") &&
                                                                           Catch::Contains("vocab_size 100"));
  CHECK_THROWS_WITH(tok.decode(std::vector<int32_t>{5000}), Catch::Contains("id 5000 is outside"));
}

TEST_CASE("bpe: any bytes round-trip through encode and decode", "[text]") {
  const BpeTokenizer tok = BpeTokenizer::train("the cat sat on the mat\nthe end\n", {.vocab_size = 300});
  std::string all;
  for (int b = 255; b >= 0; --b) all += static_cast<char>(b);
  for (const std::string& s : {all, std::string("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC  \n\n the  cat\t"),
                               std::string(""), std::string("\xC3")}) {
    CHECK(tok.decode(tok.encode(s)) == s);
  }
}

TEST_CASE("bpe: the whole King James text round-trips byte for byte; training and encoding times", "[text]") {
  if (!have_bible()) return;
  const std::string& text = bible_text();
  REQUIRE(text.size() == 4137850);
  const auto t0 = std::chrono::steady_clock::now();
  const BpeTokenizer tok = BpeTokenizer::train(text, {.vocab_size = 8000, .special_tokens = {"<|endoftext|>"}});
  const auto t1 = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = tok.encode(text);
  const auto t2 = std::chrono::steady_clock::now();
  const std::vector<int32_t> again = tok.encode(text);
  const auto t3 = std::chrono::steady_clock::now();
  const auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  const double train_s = seconds(t1 - t0), cold_s = seconds(t2 - t1), warm_s = seconds(t3 - t2);
  WARN(fmt::format("bpe on the King James text ({} bytes): train 8k vocab {:.2f} s; encode {:.2f} s = {:.1f} MB/s "
                   "with a cold word cache, {:.1f} MB/s warm; {} tokens",
                   text.size(), train_s, cold_s, text.size() / cold_s / 1e6, text.size() / warm_s / 1e6, ids.size()));
  CHECK(tok.vocab_size() == 8000);
  CHECK(again == ids);
  CHECK(tok.decode(ids) == text);
  CHECK(train_s < 30);
}

TEST_CASE("bpe: save and load round trip in GPT-2's file format", "[text]") {
  TempDir dir;
  const BpeTokenizer tok = BpeTokenizer::train("Hello hello world, the world's end.\n\tHELLO\n",
                                               {.vocab_size = 280, .min_frequency = 1, .special_tokens = {"<|e|>"}});
  tok.save(dir.file("vocab.json"), dir.file("merges.txt"));
  const std::string merges = io_test::read_bytes(dir.file("merges.txt"));
  CHECK(merges.starts_with("#version: 0.2\n"));
  CHECK(io_test::read_bytes(dir.file("vocab.json")).starts_with(R"({"<|e|>":0,"!":1,"\"":2,)"));
  const BpeTokenizer back = BpeTokenizer::load(dir.file("vocab.json"), dir.file("merges.txt"), {"<|e|>"});
  CHECK(back.merges() == tok.merges());
  CHECK(back.vocab_size() == tok.vocab_size());
  for (int32_t i = 0; i < tok.vocab_size(); ++i) CHECK(back.id_to_token(i) == tok.id_to_token(i));
  CHECK(back.special_ids() == tok.special_ids());
  const std::string text = "hello world<|e|> The worlds' HELLO!";
  CHECK(back.encode(text) == tok.encode(text));

  // GPT-2's vocab.json escapes non-ASCII as \u; a special token missing from the vocabulary is appended.
  io_test::write_bytes(dir.file("v.json"), R"({"a": 0, "b": 1, "\u0120": 2, "ab": 3, "\u0120ab": 4})");
  io_test::write_bytes(dir.file("m.txt"), "#version: 0.2\na b\n\xC4\xA0 ab\n");
  const BpeTokenizer g = BpeTokenizer::load(dir.file("v.json"), dir.file("m.txt"), {"<|endoftext|>"});
  CHECK(g.vocab_size() == 6);
  CHECK(g.special_ids() == std::vector<int32_t>{5});
  CHECK(g.encode("ab ab<|endoftext|>") == std::vector<int32_t>{3, 4, 5});
  CHECK_THROWS_WITH(g.encode("abc"), Catch::Contains("byte 0x63 has no token"));
}

TEST_CASE("bpe load: errors name the file and what is wrong", "[text]") {
  TempDir dir;
  const std::string v = dir.file("vocab.json"), m = dir.file("merges.txt");
  io_test::write_bytes(m, "#version: 0.2\na b\n");
  CHECK_THROWS_WITH(BpeTokenizer::load(dir.file("none.json"), m), Catch::Contains("[text_corpus]") &&
                                                                      Catch::Contains("none.json"));
  io_test::write_bytes(v, R"({"a": 0, "b": 1, "ab": )");
  CHECK_THROWS_WITH(BpeTokenizer::load(v, m), Catch::Contains("[bpe_tokenizer]") && Catch::Contains("not valid JSON"));
  io_test::write_bytes(v, R"(["a", "b"])");
  CHECK_THROWS_WITH(BpeTokenizer::load(v, m), Catch::Contains("expected a JSON object"));
  io_test::write_bytes(v, R"({"a": 0, "b": 2, "ab": 3})");
  CHECK_THROWS_WITH(BpeTokenizer::load(v, m), Catch::Contains("token 'ab' has id 3, outside 0..2"));
  io_test::write_bytes(v, R"({"a": 0, "b": "1", "ab": 2})");
  CHECK_THROWS_WITH(BpeTokenizer::load(v, m), Catch::Contains("the id of token 'b' is not an integer"));
  io_test::write_bytes(v, R"({"a": 0, "b": 1, "ab": 1})");
  CHECK_THROWS_WITH(BpeTokenizer::load(v, m), Catch::Contains("id 1 is given to both"));
  io_test::write_bytes(v, R"({"a": 0, "b": 1, "ab": 2})");
  io_test::write_bytes(m, "#version: 0.2\na b\nab\n");
  CHECK_THROWS_WITH(BpeTokenizer::load(v, m), Catch::Contains("merges.txt:3: expected two tokens") &&
                                                  Catch::Contains("'ab'"));
  io_test::write_bytes(m, "a b\nb a\n");
  CHECK_THROWS_WITH(BpeTokenizer::load(v, m),
                    Catch::Contains("vocab.json with") &&
                        Catch::Contains("merge 1 ('b' 'a'): token 'ba' is not in the vocabulary"));
}

TEST_CASE("bpe parity with Hugging Face tokenizers on the King James text", "[text][torch]") {
  if (std::system("python3 -c 'import tokenizers' >/dev/null 2>&1") != 0) {
    WARN("SKIPPED: python3 cannot import tokenizers (pip install tokenizers)");
    return;
  }
  if (!have_bible()) return;
  TempDir dir;
  const std::string corpus = dir.file("kjv.txt");
  io_test::write_bytes(corpus, bible_text());
  // Strings for the pre-tokenizer comparison (JSON: valid UTF-8 only).
  const std::vector<std::string> tricky = {
      "Hello world", "I'm don't they're we've you'll he'd it's IT'S 'quote'", "abc123def 4567 8.5",
      "Hello , world !", "a   b", "a   ", "   a", "x  !", "a\n\nb", "a \nb", "a\n b", "a\t\tb", "a \n",
      "caf\xC3\xA9 na\xC3\xAFve \xCE\x9A\xCE\xB1\xCE\xBB\xCE\xAE \xD0\x9C\xD0\xB8\xD1\x80! \xE6\x97\xA5\xE6\x9C\xAC",
      "x \xC2\xBD \xD9\xA3\xD9\xA4 a\xC2\xA0" "b ok \xF0\x9F\x91\x8D! \xE2\x80\x83 \xE3\x80\x80x",
      "\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\x82\xE0\xA4\xA6\xE0\xA5\x80 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D 2\xC2\xB3"};
  std::vector<std::string> quoted;
  for (const std::string& s : tricky) quoted.push_back(json_quote(s));
  io_test::write_bytes(dir.file("tricky.json"), json_list(quoted));
  const std::string cmd =
      fmt::format("python3 '{}/tests/data/hf_bpe_reference.py' '{}' '{}' 8000 2 '<|endoftext|>' '{}'", DS_SOURCE_DIR,
                  corpus, dir.path().string(), dir.file("tricky.json"));
  REQUIRE(std::system(cmd.c_str()) == 0);
  WARN("Hugging Face timings: " << io_test::read_bytes(dir.file("timings.json")));

  // Pre-tokenisation: the same pieces.
  const BpeTokenizer hf = BpeTokenizer::load(dir.file("vocab.json"), dir.file("merges.txt"), {"<|endoftext|>"});
  const std::string pre = io_test::read_bytes(dir.file("pretokens.json"));
  std::vector<std::string> ours;
  for (const std::string& s : tricky) {
    std::vector<std::string> pieces;
    for (const std::string_view p : pre_tokenize(s)) pieces.push_back(json_quote(bytes_to_unicode_text(p)));
    ours.push_back(json_list(pieces));
  }
  CHECK(json_list(ours) == pre);

  // (a) Training: the same merges in the same order.
  const BpeTokenizer tok = BpeTokenizer::train(bible_text(), {.vocab_size = 8000, .min_frequency = 2,
                                                              .special_tokens = {"<|endoftext|>"}});
  const Merges& a = tok.merges();
  const Merges& b = hf.merges();
  size_t same_prefix = 0;
  while (same_prefix < std::min(a.size(), b.size()) && a[same_prefix] == b[same_prefix]) ++same_prefix;
  WARN(fmt::format("merges: ds {}, Hugging Face {}, identical for the first {}", a.size(), b.size(), same_prefix));
  CHECK(same_prefix == b.size());
  CHECK(a.size() == b.size());
  CHECK(tok.vocab_size() == hf.vocab_size());

  // (b) ds loading Hugging Face's files gives their ids for the whole corpus.
  const std::string raw = io_test::read_bytes(dir.file("ids.bin"));
  std::vector<int32_t> expected(raw.size() / 4);
  std::memcpy(expected.data(), raw.data(), expected.size() * 4);
  const std::vector<int32_t> ids = hf.encode(bible_text());
  REQUIRE(ids.size() == expected.size());
  size_t first_diff = 0;
  while (first_diff < ids.size() && ids[first_diff] == expected[first_diff]) ++first_diff;
  INFO("first differing id at " << first_diff);
  CHECK(first_diff == ids.size());
  CHECK(tok.encode(bible_text()) == ids);  // and ds's own tokenizer, trained alike, gives the same ids
}
