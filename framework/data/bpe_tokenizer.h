#pragma once
// A byte-level BPE tokenizer, the one of GPT-2 and of Hugging Face tokenizers' ByteLevelBPETokenizer (without a
// prefix space): text is split into GPT-2's pre-tokens (byte_level.h), each pre-token's bytes start as one token per
// byte, and merges are applied lowest rank first (leftmost first among equal ranks) until none applies. Special
// tokens ("<|endoftext|>", "[MASK]") are matched in the text first and never split. Files are GPT-2's vocab.json
// (token -> id, tokens spelled with byte_to_unicode()) and merges.txt ("#version: 0.2", then "a b" per merge by rank),
// so GPT-2's own files and Hugging Face's load, and what save() writes loads in both.
//
//   BpeTokenizer tok = BpeTokenizer::train(read_bible_kjv(), {.vocab_size = 8000,
//                                                             .special_tokens = {"<|endoftext|>"}});
//   std::vector<int32_t> ids = tok.encode("In the beginning");   // decode(ids) gives the text back, byte for byte
//   tok.save("vocab.json", "merges.txt");
//
// A tokenizer is immutable once built; every const function may be called from several threads at once.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ds::data {

namespace detail {
struct WordCache;
// Heterogeneous lookup: find a std::string key from a std::string_view without building a string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
}  // namespace detail

struct BpeTrainOptions {
  int64_t vocab_size = 8000;  // the size to stop at: special tokens + 256 byte tokens + learned tokens
  int64_t min_frequency = 2;  // a pair that occurs fewer times than this is never merged
  std::vector<std::string> special_tokens;  // ids 0, 1, ... in this order, e.g. {"<|endoftext|>"}
};

class BpeTokenizer {
 public:
  // A merge: the two tokens joined, spelled as in merges.txt (byte_to_unicode() characters).
  using Merge = std::pair<std::string, std::string>;

  // Learns merges from `corpus` exactly as Hugging Face's BpeTrainer does for ByteLevelBPETokenizer.train([file]):
  // the corpus is cut into lines (each keeping its "\n", as tokenizers reads training files) and pre-tokenised line
  // by line, special tokens in the corpus are not treated specially, ids are the special tokens then the 256 byte
  // tokens sorted by code point, and each step merges the most frequent pair, ties going to the smallest
  // (left id, right id). Throws ds::Error "[bpe_tokenizer] ..." for a vocab_size below specials + 256.
  static BpeTokenizer train(std::string_view corpus, const BpeTrainOptions& options);

  // Reads vocab.json and merges.txt in GPT-2's format; `special_tokens` are marked special, and appended to the
  // vocabulary when it lacks them. Errors name the file (and line) for unreadable files, bad JSON, ids that are not
  // 0..n-1, malformed merge lines, and merges of tokens the vocabulary does not have.
  static BpeTokenizer load(const std::string& vocab_json_path, const std::string& merges_txt_path,
                           const std::vector<std::string>& special_tokens = {});

  // From the vocabulary (token of id i at index i, spelled with byte_to_unicode() characters except for special
  // tokens, which are spelled as themselves), the merges in rank order, and the special tokens (appended to the
  // vocabulary when missing). Throws for duplicate tokens or a merge whose parts or result are not in the vocabulary.
  BpeTokenizer(std::vector<std::string> vocab, std::vector<Merge> merges,
               const std::vector<std::string>& special_tokens);

  // Writes vocab.json (ids in order) and merges.txt (ranks in order) atomically enough for one writer: each file is
  // written under a temporary name and renamed. Errors name the file.
  void save(const std::string& vocab_json_path, const std::string& merges_txt_path) const;

  // The ids of `text` (any bytes; invalid UTF-8 included). Throws when a byte has no token in the vocabulary (only
  // possible for a loaded vocabulary without all 256 byte tokens).
  std::vector<int32_t> encode(std::string_view text) const;

  // The bytes the ids spell; special tokens give their own text, or nothing with skip_special_tokens. Throws for an
  // id outside [0, vocab_size()). decode(encode(t)) == t for every byte string t.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
  // The id of a token spelled as in vocab.json (a special token as itself); nullopt when there is none.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // The token of an id, spelled as in vocab.json; throws for an id outside [0, vocab_size()).
  const std::string& id_to_token(int32_t id) const;
  // The merges in rank order (rank 0 first), as merges.txt lists them.
  const std::vector<Merge>& merges() const { return merges_; }
  // The ids of the special tokens, in the order they were given.
  const std::vector<int32_t>& special_ids() const { return special_ids_; }
  bool is_special(int32_t id) const;

 private:
  struct MergeRule {
    int32_t rank, new_id;
  };
  std::vector<int32_t> encode_word(std::string_view bytes) const;  // one pre-token, no cache
  void encode_ordinary(std::string_view text, std::vector<int32_t>& out) const;  // no special tokens in text

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t, detail::StringHash, std::equal_to<>> ids_;
  std::vector<Merge> merges_;
  std::unordered_map<uint64_t, MergeRule> merge_rules_;  // (left id << 32 | right id) -> rank and result
  std::array<int32_t, 256> byte_ids_{};                   // the id of each byte's token, -1 when missing
  std::vector<int32_t> special_ids_;
  std::vector<bool> special_;  // by id
  std::shared_ptr<detail::WordCache> cache_;  // pre-token -> ids; shared by copies, which encode alike
};

}  // namespace ds::data
