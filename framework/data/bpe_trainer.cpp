// BpeTokenizer::train: Hugging Face tokenizers' BpeTrainer (tokenizers/src/models/bpe/trainer.rs) for byte-level
// BPE, step for step where the step decides the result:
//   - words are the pre-tokens of each line, counted; the vocabulary starts with the special tokens, then the 256
//     byte tokens sorted by code point;
//   - pair counts are kept incrementally: merging a pair in a word reports the pairs it destroyed (-1) and created
//     (+1), weighted by the word's count; the merged pair's own count is left as it was, as theirs is;
//   - a max-heap holds (count, pair, words that had the pair when the entry was made). A popped entry whose count
//     is stale goes back with the current count; otherwise its pair is merged in its words only. Pairs created by a
//     merge get a new entry listing the words where they appeared, so a pair can have several entries and, when a
//     later merge rebuilds an existing token, be merged twice (the later rank is the one kept, as in their merge
//     map). Equal counts go to the smaller (left id, right id);
//   - training stops when the vocabulary reaches vocab_size, the heap is empty, or the best count is below
//     min_frequency.
// Their heap pops entries of equal count *and* pair (only possible for such a pair with several entries) in an
// order that depends on hash-map iteration; ours pops the one listing fewer words first.
#include <algorithm>
#include <unordered_map>

#include <ds/core/detail/check.h>
#include <ds/data/bpe_tokenizer.h>
#include <ds/data/byte_level.h>

#include "detail/unicode.h"

namespace ds::data {

namespace {
constexpr const char* kComponent = "bpe_tokenizer";

using Pair = uint64_t;  // left id << 32 | right id: ordering the keys orders the pairs as (left, right)
Pair make_pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }
int32_t left_of(Pair p) { return static_cast<int32_t>(p >> 32); }
int32_t right_of(Pair p) { return static_cast<int32_t>(p & 0xFFFFFFFFu); }

struct HeapEntry {
  int64_t count;
  Pair pair;
  std::vector<uint32_t> words;  // indices of words that had the pair
};
// "a pops after b": lower count, or the same count and a larger pair.
bool pops_after(const HeapEntry& a, const HeapEntry& b) {
  if (a.count != b.count) return a.count < b.count;
  if (a.pair != b.pair) return a.pair > b.pair;
  return a.words.size() > b.words.size();
}

// A pair change reported by a merge, weighted by the word's count.
struct Changes {
  std::unordered_map<Pair, int64_t>& counts;
  std::unordered_map<Pair, std::vector<uint32_t>>& created_in;  // pairs with a +1 this step -> their words
  int64_t weight;
  uint32_t word;
  void operator()(int32_t a, int32_t b, int delta) {
    const Pair p = make_pair_key(a, b);
    counts[p] += delta * weight;
    if (delta > 0) {
      std::vector<uint32_t>& w = created_in[p];
      if (w.empty() || w.back() != word) w.push_back(word);
    }
  }
};

// Replaces every non-overlapping (a, b), left to right, by `merged` and reports the pair changes exactly as
// Hugging Face's Word::merge: the left neighbour (already rewritten) loses (left, a) and gains (left, merged); the
// right neighbour (not yet looked at) loses (b, right) and gains (merged, right).
void merge_word(std::vector<int32_t>& s, int32_t a, int32_t b, int32_t merged, Changes& change) {
  const size_t n = s.size();
  size_t w = 0;  // s[0, w) is the rewritten prefix; w <= r, so rewriting in place never clobbers unread symbols
  for (size_t r = 0; r < n;) {
    if (r + 1 < n && s[r] == a && s[r + 1] == b) {
      if (w > 0) {
        change(s[w - 1], a, -1);
        change(s[w - 1], merged, +1);
      }
      if (r + 2 < n) {
        change(b, s[r + 2], -1);
        change(merged, s[r + 2], +1);
      }
      s[w++] = merged;
      r += 2;
    } else {
      s[w++] = s[r++];
    }
  }
  s.resize(w);
}

// Pre-token -> occurrences, over the lines of the corpus (each with its '\n').
std::unordered_map<std::string_view, int64_t> count_words(std::string_view corpus) {
  std::unordered_map<std::string_view, int64_t> counts;
  for (size_t pos = 0; pos < corpus.size();) {
    size_t end = corpus.find('\n', pos);
    end = end == std::string_view::npos ? corpus.size() : end + 1;
    const std::string_view line = corpus.substr(pos, end - pos);
    for (size_t p = 0; p < line.size();) {
      const size_t e = pre_token_end(line, p);
      ++counts[line.substr(p, e - p)];
      p = e;
    }
    pos = end;
  }
  return counts;
}
}  // namespace

BpeTokenizer BpeTokenizer::train(std::string_view corpus, const BpeTrainOptions& options) {
  // The vocabulary: special tokens, then the byte tokens in code point order (GPT-2's order too).
  std::vector<std::string> vocab;
  std::unordered_map<std::string, int32_t, detail::StringHash, std::equal_to<>> ids;
  const auto add_token = [&](const std::string& t) {
    const auto [it, fresh] = ids.emplace(t, static_cast<int32_t>(vocab.size()));
    if (fresh) vocab.push_back(t);
    return it->second;
  };
  for (const std::string& s : options.special_tokens) {
    DS_CHECK(!s.empty(), kComponent, "train: a special token is empty");
    add_token(s);
  }
  std::array<char32_t, 256> code_points = byte_to_unicode();
  std::sort(code_points.begin(), code_points.end());
  for (const char32_t cp : code_points) {
    std::string t;
    detail::append_utf8(cp, t);
    add_token(t);
  }
  DS_CHECK(options.vocab_size >= static_cast<int64_t>(vocab.size()), kComponent,
           "train: vocab_size {} is below the {} special and byte tokens it must hold", options.vocab_size,
           vocab.size());
  std::array<int32_t, 256> byte_id{};
  for (size_t b = 0; b < 256; ++b) {
    std::string t;
    detail::append_utf8(byte_to_unicode()[b], t);
    byte_id[b] = ids.find(t)->second;
  }

  // The words, sorted so that training never depends on hash order, as symbol ids.
  const std::unordered_map<std::string_view, int64_t> word_counts = count_words(corpus);
  std::vector<std::pair<std::string_view, int64_t>> sorted(word_counts.begin(), word_counts.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<int32_t>> words(sorted.size());
  std::vector<int64_t> counts(sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) {
    for (const char c : sorted[i].first) words[i].push_back(byte_id[static_cast<unsigned char>(c)]);
    counts[i] = sorted[i].second;
  }

  // Initial pair counts and one heap entry per pair.
  std::unordered_map<Pair, int64_t> pair_counts;
  std::unordered_map<Pair, std::vector<uint32_t>> created_in;
  for (size_t i = 0; i < words.size(); ++i) {
    Changes add{pair_counts, created_in, counts[i], static_cast<uint32_t>(i)};
    for (size_t k = 0; k + 1 < words[i].size(); ++k) add(words[i][k], words[i][k + 1], +1);
  }
  std::vector<HeapEntry> heap;
  const auto push_created = [&] {
    for (auto& [pair, where] : created_in) {
      const int64_t c = pair_counts[pair];
      if (c <= 0) continue;
      heap.push_back({c, pair, std::move(where)});
      std::push_heap(heap.begin(), heap.end(), pops_after);
    }
    created_in.clear();
  };
  push_created();

  std::vector<std::pair<Pair, int32_t>> merges;  // (pair, id of the merged token) in the order they were made
  while (static_cast<int64_t>(ids.size()) < options.vocab_size && !heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), pops_after);
    HeapEntry top = std::move(heap.back());
    heap.pop_back();
    const int64_t current = pair_counts[top.pair];
    if (top.count != current) {
      top.count = current;
      heap.push_back(std::move(top));
      std::push_heap(heap.begin(), heap.end(), pops_after);
      continue;
    }
    if (top.count < 1 || top.count < options.min_frequency) break;

    const int32_t a = left_of(top.pair), b = right_of(top.pair);
    const int32_t merged = add_token(vocab[static_cast<size_t>(a)] + vocab[static_cast<size_t>(b)]);
    merges.emplace_back(top.pair, merged);
    for (const uint32_t w : top.words) {
      Changes change{pair_counts, created_in, counts[w], w};
      merge_word(words[w], a, b, merged, change);
    }
    push_created();
  }

  // A pair merged twice keeps its later rank (their merges are a map from pair to rank).
  std::unordered_map<Pair, size_t> last_rank;
  for (size_t r = 0; r < merges.size(); ++r) last_rank[merges[r].first] = r;
  std::vector<Merge> merge_tokens;
  merge_tokens.reserve(last_rank.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    if (last_rank[merges[r].first] != r) continue;
    merge_tokens.emplace_back(vocab[static_cast<size_t>(left_of(merges[r].first))],
                              vocab[static_cast<size_t>(right_of(merges[r].first))]);
  }
  return BpeTokenizer(std::move(vocab), std::move(merge_tokens), options.special_tokens);
}

}  // namespace ds::data
