#include "text_data.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include <ds/core/error.h>
#include <ds/data/text_corpus.h>
#include <ds/data/token_dataset.h>

namespace ds::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr const char* kTag = "ds-train";

struct Files {
  fs::path dir, vocab, merges, note, shard;
  explicit Files(const std::string& d)
      : dir(d), vocab(dir / "vocab.json"), merges(dir / "merges.txt"), note(dir / "trained_on.txt"),
        shard(dir / "kjv.tok") {}
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// What trained_on.txt says about a tokenizer trained for config c.
std::string training_note(const DataConfig& c) {
  return fmt::format("corpus: kjv\nheldout_fraction: {}\nvocab_size: {}\nmin_frequency: {}\n", c.heldout_fraction,
                     c.tokenizer.vocab_size, c.tokenizer.min_frequency);
}

// "a: 1\nb: 2\n" -> "a: 1, b: 2".
std::string one_line(std::string_view s) {
  std::string out;
  for (const char c : s) out += c == '\n' ? std::string(", ") : std::string(1, c);
  return out.ends_with(", ") ? out.substr(0, out.size() - 2) : out;
}

// A folder that holds a tokenizer must have been trained as the config asks: reusing one trained on another split
// would let held-out text shape the vocabulary, and one of another size would silently change the model.
void check_training_note(const Files& f, const DataConfig& c) {
  if (!fs::exists(f.note)) return;  // a tokenizer brought from elsewhere (GPT-2's files, say): used as it is
  const std::string have = data::read_text_file(f.note.string()), want = training_note(c);
  if (have != want)
    throw_error(kTag, fmt::format("{}: the tokenizer there was trained with {} ({}), the config asks for {}: "
                                  "delete the folder to train a new one, or set data.tokenizer.dir to another",
                                  f.dir.string(), one_line(have), f.note.filename().string(), one_line(want)));
}

data::BpeTokenizer train_tokenizer(const Files& f, const DataConfig& c, std::span<const data::BibleVerse> verses) {
  std::string text;
  for (const data::BibleVerse& v : verses) (text += v.text) += '\n';
  data::BpeTokenizer tok = data::BpeTokenizer::train(
      text, {.vocab_size = c.tokenizer.vocab_size, .min_frequency = c.tokenizer.min_frequency,
             .special_tokens = text_special_tokens()});
  // The note first: a run killed between the two writes leaves a note without a tokenizer, which trains again.
  {
    std::ofstream out(f.note);
    out << training_note(c);
    if (!out.flush()) throw_error(kTag, f.note.string() + ": cannot write the file");
  }
  tok.save(f.vocab.string(), f.merges.string());
  return tok;
}

// The cached token shard, when it is at least as new as the tokenizer and holds one "\n" per verse; empty (with the
// reason in `why`) otherwise.
std::vector<uint16_t> read_cached_tokens(const Files& f, const data::BpeTokenizer& tok, int32_t newline,
                                         int64_t verses, std::string& why) {
  if (!fs::exists(f.shard)) return {};
  try {
    data::TokenShard s = data::read_token_shard(f.shard.string());
    const auto lines = std::count(s.tokens.begin(), s.tokens.end(), static_cast<uint16_t>(newline));
    if (fs::last_write_time(f.shard) < std::max(fs::last_write_time(f.vocab), fs::last_write_time(f.merges)))
      why = "it is older than the tokenizer";
    else if (s.vocab_size != tok.vocab_size())
      why = fmt::format("it was made with {} tokens, the tokenizer has {}", s.vocab_size, tok.vocab_size());
    else if (lines != verses)
      why = fmt::format("it holds {} verses, the corpus {}", lines, verses);
    else
      return std::move(s.tokens);
  } catch (const Error& e) {
    why = e.what();
  }
  return {};
}

std::vector<uint16_t> encode_verses(std::span<const data::BibleVerse> verses, const data::BpeTokenizer& tok,
                                    int32_t newline) {
  std::vector<uint16_t> out;
  out.reserve(verses.size() * 40);
  for (const data::BibleVerse& v : verses) {
    for (const int32_t id : tok.encode(v.text)) out.push_back(static_cast<uint16_t>(id));
    out.push_back(static_cast<uint16_t>(newline));
  }
  return out;
}

// How often each id occurs (every u16 id has a slot).
std::vector<int64_t> token_counts(std::span<const uint16_t> tokens) {
  std::vector<int64_t> counts(65536, 0);
  for (const uint16_t t : tokens) ++counts[t];
  return counts;
}

}  // namespace

const std::vector<std::string>& text_special_tokens() {
  static const std::vector<std::string> tokens = {"<|endoftext|>", "[PAD]", "[CLS]", "[SEP]", "[MASK]"};
  return tokens;
}

data::BpeTokenizer load_saved_tokenizer(const TokenizerConfig& c, const std::string& tag) {
  const Files f(c.dir);
  for (const fs::path& p : {f.vocab, f.merges})
    if (!fs::exists(p))
      throw_error(tag, fmt::format("{}: no tokenizer there ({} is missing): ds-train trains and saves one when it "
                                   "runs the config", c.dir, p.filename().string()));
  return data::BpeTokenizer::load(f.vocab.string(), f.merges.string(), text_special_tokens());
}

double unigram_entropy(std::span<const uint16_t> tokens) {
  double h = 0;
  const auto n = static_cast<double>(tokens.size());
  for (const int64_t k : token_counts(tokens))
    if (k > 0) h -= static_cast<double>(k) / n * std::log(static_cast<double>(k) / n);
  return h;
}

double unigram_cross_entropy(std::span<const uint16_t> train, std::span<const uint16_t> heldout, int64_t vocab_size) {
  const std::vector<int64_t> counts = token_counts(train);
  const double total = static_cast<double>(train.size() + static_cast<size_t>(vocab_size));
  double sum = 0;
  for (const uint16_t t : heldout) sum -= std::log(static_cast<double>(counts[t] + 1) / total);
  return heldout.empty() ? 0.0 : sum / static_cast<double>(heldout.size());
}

TextCorpus load_kjv(const DataConfig& c, bool chapters) {
  const std::vector<data::BibleVerse> verses = data::read_bible_kjv_verses();
  const auto n = static_cast<int64_t>(verses.size());
  const int64_t heldout = std::clamp<int64_t>(std::llround(c.heldout_fraction * static_cast<double>(n)), 1, n - 1);
  TextCorpus out;
  out.train_verses = n - heldout;
  out.heldout_verses = heldout;
  const data::BibleVerse& first_heldout = verses[static_cast<size_t>(out.train_verses)];
  fmt::print("kjv: {} verses: {} for training, the last {} held out (from {}{}:{}, by verse order)\n", n,
             out.train_verses, heldout, first_heldout.book, first_heldout.chapter, first_heldout.verse);

  const Files f(c.tokenizer.dir);
  std::error_code ec;
  fs::create_directories(f.dir, ec);
  if (ec) throw_error(kTag, f.dir.string() + ": cannot create the tokenizer folder: " + ec.message());
  auto t0 = Clock::now();
  bool trained = false;
  if (!fs::exists(f.vocab) && !fs::exists(f.merges)) {
    out.tokenizer = std::make_shared<const data::BpeTokenizer>(
        train_tokenizer(f, c, std::span(verses).first(static_cast<size_t>(out.train_verses))));
    trained = true;
    fmt::print("tokenizer: trained on the training text in {:.1f} s, {} tokens, saved in {}\n", seconds_since(t0),
               out.tokenizer->vocab_size(), f.dir.string());
  } else {
    check_training_note(f, c);
    out.tokenizer = std::make_shared<const data::BpeTokenizer>(load_saved_tokenizer(c.tokenizer, kTag));
    fmt::print("tokenizer: {} tokens, loaded from {}\n", out.tokenizer->vocab_size(), f.dir.string());
  }
  const data::BpeTokenizer& tok = *out.tokenizer;
  if (tok.vocab_size() > 65536)
    throw_error(kTag, fmt::format("{}: the tokenizer has {} tokens; token shards hold ids below 65536", f.dir.string(),
                                  tok.vocab_size()));
  const std::vector<int32_t> nl = tok.encode("\n");
  if (nl.size() != 1) throw_error(kTag, f.dir.string() + ": the tokenizer has no single token for \"\\n\"");

  t0 = Clock::now();
  std::string why;
  std::vector<uint16_t> tokens = trained ? std::vector<uint16_t>{} : read_cached_tokens(f, tok, nl[0], n, why);
  if (!tokens.empty()) {
    fmt::print("tokens: {} read from {} in {:.2f} s\n", tokens.size(), f.shard.string(), seconds_since(t0));
  } else {
    tokens = encode_verses(verses, tok, nl[0]);
    data::write_token_shard(f.shard.string(), std::span<const uint16_t>(tokens), tok.vocab_size());
    fmt::print("tokens: {} encoded in {:.1f} s, cached in {}{}\n", tokens.size(), seconds_since(t0), f.shard.string(),
               why.empty() ? "" : " (the cache was stale: " + why + ")");
  }

  // Split after the last training verse's "\n"; cut chapters into sentences at every "\n".
  size_t split = 0;
  for (int64_t lines = 0; lines < out.train_verses; ++split)
    if (tokens[split] == nl[0]) ++lines;
  const auto middle = tokens.begin() + static_cast<std::ptrdiff_t>(split);
  out.train_tokens = std::make_shared<const std::vector<uint16_t>>(tokens.begin(), middle);
  out.heldout_tokens = std::make_shared<const std::vector<uint16_t>>(middle, tokens.end());
  if (chapters) {
    size_t pos = 0;
    for (int64_t i = 0; i < n; ++i) {
      const data::BibleVerse& v = verses[static_cast<size_t>(i)];
      auto& docs = i < out.train_verses ? out.train_chapters : out.heldout_chapters;
      const data::BibleVerse* before = i > 0 ? &verses[static_cast<size_t>(i) - 1] : nullptr;
      const bool new_chapter =
          !before || i == out.train_verses || v.chapter != before->chapter || v.book != before->book;
      if (new_chapter) docs.emplace_back();
      std::vector<int32_t>& sentence = docs.back().emplace_back();
      for (; tokens[pos] != nl[0]; ++pos) sentence.push_back(tokens[pos]);
      ++pos;  // the "\n"
    }
  }
  out.unigram_entropy = unigram_entropy(*out.train_tokens);
  out.heldout_unigram_loss = unigram_cross_entropy(*out.train_tokens, *out.heldout_tokens, tok.vocab_size());
  fmt::print("tokens: {} for training, {} held out; unigram_entropy={:.4f} nats (of the training tokens: the loss of a "
             "model that ignores the context; on the held-out tokens it scores {:.4f})\n",
             out.train_tokens->size(), out.heldout_tokens->size(), out.unigram_entropy, out.heldout_unigram_loss);
  std::fflush(stdout);
  return out;
}

}  // namespace ds::train
