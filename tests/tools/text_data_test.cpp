// The King James text as ds-train's text tasks load it: the split by verse order, token streams that decode back to
// the text, chapters of verses for BERT, the tokenizer folder (trained once, then loaded; a mismatching one refused),
// the token cache (reused, rebuilt when damaged), and the unigram entropy.
#include <algorithm>
#include <cmath>

#include <catch2/catch.hpp>

#include <ds/data/text_corpus.h>
#include <ds/data/token_dataset.h>

#include "tools/train/text_data.h"
#include "tool_test_util.h"

using namespace tool_test;
using ds::train::DataConfig;

namespace {

std::string decode(const ds::data::BpeTokenizer& tok, const std::vector<uint16_t>& ids) {
  const std::vector<int32_t> wide(ids.begin(), ids.end());
  return tok.decode(wide);
}

}  // namespace

TEST_CASE("text data: unigram entropy in nats", "[tools][text]") {
  const std::vector<uint16_t> two = {3, 9, 3, 9}, one = {7, 7, 7}, skew = {1, 1, 1, 2};
  CHECK(ds::train::unigram_entropy(two) == Approx(std::log(2.0)));
  CHECK(ds::train::unigram_entropy(one) == 0.0);
  CHECK(ds::train::unigram_entropy(skew) == Approx(-(0.75 * std::log(0.75) + 0.25 * std::log(0.25))));
  // Add-one smoothing over 4 ids: p(1) = 4/8, p(2) = 2/8, p(0) = p(3) = 1/8.
  const std::vector<uint16_t> seen = {1, 2, 3};
  CHECK(ds::train::unigram_cross_entropy(skew, seen, 4) ==
        Approx(-(std::log(4.0 / 8) + std::log(2.0 / 8) + std::log(1.0 / 8)) / 3));
}

TEST_CASE("text data: the King James split, streams, chapters, tokenizer folder and token cache", "[tools][text]") {
  if (!have_bible()) return;
  Dir dir("text_data");
  DataConfig c;
  c.dataset = "kjv";
  c.tokenizer = {.dir = (dir.path / "tok").string(), .vocab_size = 400, .min_frequency = 2};
  const ds::train::TextCorpus t = ds::train::load_kjv(c, true);
  const ds::data::BpeTokenizer& tok = *t.tokenizer;
  CHECK(tok.vocab_size() == 400);
  CHECK(*tok.token_to_id("<|endoftext|>") == 0);
  CHECK(*tok.token_to_id("[MASK]") == 4);
  CHECK(t.train_verses + t.heldout_verses == 31102);
  CHECK(t.heldout_verses == 1555);  // 5%, rounded
  // The streams are the text, verse by verse, the held-out part last.
  const std::string text = ds::data::read_bible_kjv();
  const std::string train_text = decode(tok, *t.train_tokens), heldout_text = decode(tok, *t.heldout_tokens);
  CHECK(train_text + heldout_text == text);
  CHECK(std::count(heldout_text.begin(), heldout_text.end(), '\n') == 1555);
  CHECK(train_text.rfind("In the beginning God created the heaven and the earth.\n", 0) == 0);
  // 1189 chapters; the split falls inside Colossians 4, which both parts then hold a piece of.
  CHECK(t.train_chapters.size() + t.heldout_chapters.size() == 1190);
  const std::vector<int32_t>& first = t.train_chapters.front().front();
  CHECK(tok.decode(first) == "In the beginning God created the heaven and the earth.");
  CHECK(t.train_chapters.front().size() == 31);  // Genesis 1
  CHECK(t.unigram_entropy == Approx(ds::train::unigram_entropy(*t.train_tokens)));
  CHECK(t.unigram_entropy > 4.0);
  CHECK(t.unigram_entropy < std::log(400.0));
  CHECK(t.heldout_unigram_loss > t.unigram_entropy);  // the held-out text is the New Testament's end: other words

  // The folder now holds the tokenizer, its note and the tokens; a second load reuses them.
  const fs::path shard = dir.path / "tok" / "kjv.tok";
  REQUIRE(fs::exists(shard));
  CHECK(read(dir.path / "tok" / "trained_on.txt") ==
        "corpus: kjv\nheldout_fraction: 0.05\nvocab_size: 400\nmin_frequency: 2\n");
  const auto written = fs::last_write_time(shard);
  const ds::train::TextCorpus again = ds::train::load_kjv(c, false);
  CHECK(fs::last_write_time(shard) == written);
  CHECK(*again.train_tokens == *t.train_tokens);
  CHECK(*again.heldout_tokens == *t.heldout_tokens);
  CHECK(again.train_chapters.empty());

  // A damaged cache is rebuilt, to the same tokens.
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  const ds::train::TextCorpus rebuilt = ds::train::load_kjv(c, false);
  CHECK(*rebuilt.train_tokens == *t.train_tokens);
  CHECK_NOTHROW(ds::data::read_token_shard(shard.string()));

  // A folder trained for another config is refused rather than reused.
  DataConfig other = c;
  other.tokenizer.min_frequency = 3;
  CHECK_THROWS_WITH(ds::train::load_kjv(other, false),
                    Catch::Contains("[ds-train] " + c.tokenizer.dir + ": the tokenizer there was trained with") &&
                        Catch::Contains("heldout_fraction: 0.05, vocab_size: 400, min_frequency: 2") &&
                        Catch::Contains("min_frequency: 3") &&
                        Catch::Contains("delete the folder"));
  // ds-generate's loader: the saved tokenizer, or an error naming the folder.
  CHECK(ds::train::load_saved_tokenizer(c.tokenizer, "t").vocab_size() == 400);
  CHECK_THROWS_WITH(ds::train::load_saved_tokenizer({.dir = (dir.path / "none").string()}, "t"),
                    Catch::Contains("[t] " + (dir.path / "none").string() + ": no tokenizer there"));
}
