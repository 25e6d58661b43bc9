#include <ds/data/bpe_tokenizer.h>

#include <algorithm>
#include <mutex>

#include <ds/core/detail/check.h>
#include <ds/data/byte_level.h>

#include "detail/unicode.h"

namespace ds::data {

namespace {
constexpr const char* kComponent = "bpe_tokenizer";
// Hugging Face caches 10,000 words; a corpus has more distinct pre-tokens than that (the King James 31,000), and a
// word costs a few dozen bytes.
constexpr size_t kCacheCapacity = size_t{1} << 18;

uint64_t pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }
}  // namespace

namespace detail {
// Pre-token bytes -> ids, filled as text is encoded and never emptied; once full, new words are not kept.
struct WordCache {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> words;
};
}  // namespace detail

BpeTokenizer::BpeTokenizer(std::vector<std::string> vocab, std::vector<Merge> merges,
                           const std::vector<std::string>& special_tokens)
    : vocab_(std::move(vocab)), merges_(std::move(merges)), cache_(std::make_shared<detail::WordCache>()) {
  DS_CHECK(vocab_.size() < (size_t{1} << 31), kComponent, "a vocabulary of {} tokens is too large", vocab_.size());
  ids_.reserve(vocab_.size() + special_tokens.size());
  for (size_t i = 0; i < vocab_.size(); ++i) {
    const auto [it, fresh] = ids_.emplace(vocab_[i], static_cast<int32_t>(i));
    DS_CHECK(fresh, kComponent, "token '{}' has two ids, {} and {}", vocab_[i], it->second, i);
  }
  for (const std::string& s : special_tokens) {
    DS_CHECK(!s.empty(), kComponent, "a special token is empty");
    auto it = ids_.find(s);
    if (it == ids_.end()) {
      vocab_.push_back(s);
      it = ids_.emplace(s, static_cast<int32_t>(vocab_.size() - 1)).first;
    }
    if (std::find(special_ids_.begin(), special_ids_.end(), it->second) == special_ids_.end()) {
      special_ids_.push_back(it->second);
    }
  }
  special_.assign(vocab_.size(), false);
  for (const int32_t id : special_ids_) special_[static_cast<size_t>(id)] = true;

  for (size_t b = 0; b < 256; ++b) {
    std::string token;
    detail::append_utf8(byte_to_unicode()[b], token);
    const auto it = ids_.find(token);
    byte_ids_[b] = it == ids_.end() ? -1 : it->second;
  }

  merge_rules_.reserve(merges_.size());
  for (size_t rank = 0; rank < merges_.size(); ++rank) {
    const auto& [a, b] = merges_[rank];
    const auto id = [&](const std::string& token) {
      const auto it = ids_.find(token);
      DS_CHECK(it != ids_.end(), kComponent, "merge {} ('{}' '{}'): token '{}' is not in the vocabulary", rank, a, b,
               token);
      return it->second;
    };
    // A pair listed twice keeps its later rank, as Hugging Face's merge map does.
    merge_rules_[pair_key(id(a), id(b))] = {static_cast<int32_t>(rank), id(a + b)};
  }
}

std::optional<int32_t> BpeTokenizer::token_to_id(std::string_view token) const {
  const auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const std::string& BpeTokenizer::id_to_token(int32_t id) const {
  DS_CHECK(id >= 0 && id < vocab_size(), kComponent, "id {} is outside the vocabulary [0, {})", id, vocab_size());
  return vocab_[static_cast<size_t>(id)];
}

bool BpeTokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && special_[static_cast<size_t>(id)];
}

std::vector<int32_t> BpeTokenizer::encode_word(std::string_view bytes) const {
  // A doubly linked list of symbols merged in place, and a min-heap of candidate merges by (rank, position): the
  // order of Hugging Face's Word::merge_all, so ids match theirs also for merges files that are not BPE-consistent.
  struct Symbol {
    int32_t id, prev, next;
    bool alive;
  };
  struct Candidate {
    int32_t rank, pos, new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const auto n = static_cast<int32_t>(bytes.size());
  std::vector<Symbol> sym(bytes.size());
  for (int32_t i = 0; i < n; ++i) {
    const auto byte = static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
    const int32_t id = byte_ids_[byte];
    DS_CHECK(id >= 0, kComponent, "byte {:#04x} has no token in the vocabulary (its token is '{}')", int{byte},
             bytes_to_unicode_text(std::string_view(bytes.data() + i, 1)));
    sym[static_cast<size_t>(i)] = {id, i - 1, i + 1 < n ? i + 1 : -1, true};
  }
  std::vector<Candidate> heap;
  const auto push = [&](int32_t pos, int32_t left, int32_t right) {
    const auto it = merge_rules_.find(pair_key(left, right));
    if (it == merge_rules_.end()) return;
    heap.push_back({it->second.rank, pos, it->second.new_id});
    std::push_heap(heap.begin(), heap.end(), std::greater<>{});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i, sym[static_cast<size_t>(i)].id, sym[static_cast<size_t>(i) + 1].id);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& cur = sym[static_cast<size_t>(top.pos)];
    if (!cur.alive || cur.next < 0) continue;
    Symbol& right = sym[static_cast<size_t>(cur.next)];
    // The pair may have changed since the candidate was pushed: merge only if it still yields the same token.
    const auto rule = merge_rules_.find(pair_key(cur.id, right.id));
    if (rule == merge_rules_.end() || rule->second.new_id != top.new_id) continue;
    cur.id = top.new_id;
    cur.next = right.next;
    right.alive = false;
    if (cur.next >= 0) sym[static_cast<size_t>(cur.next)].prev = top.pos;
    if (cur.prev >= 0) push(cur.prev, sym[static_cast<size_t>(cur.prev)].id, cur.id);
    if (cur.next >= 0) push(top.pos, cur.id, sym[static_cast<size_t>(cur.next)].id);
  }
  std::vector<int32_t> ids;
  for (const Symbol& s : sym) {
    if (s.alive) ids.push_back(s.id);
  }
  return ids;
}

void BpeTokenizer::encode_ordinary(std::string_view text, std::vector<int32_t>& out) const {
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = pre_token_end(text, pos);
    const std::string_view word = text.substr(pos, end - pos);
    pos = end;
    {
      std::lock_guard<std::mutex> lock(cache_->mutex);
      const auto it = cache_->words.find(word);
      if (it != cache_->words.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    std::vector<int32_t> ids = encode_word(word);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->words.size() < kCacheCapacity) cache_->words.emplace(std::string(word), std::move(ids));
  }
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3);
  // Special tokens split the text first (leftmost match, the longest where several start at the same byte); the
  // next occurrence of each is remembered so that the text is searched once per special token.
  std::vector<size_t> next(special_ids_.size());
  for (size_t k = 0; k < next.size(); ++k) next[k] = text.find(vocab_[static_cast<size_t>(special_ids_[k])]);
  size_t pos = 0;
  while (!special_ids_.empty() && pos < text.size()) {
    size_t best = std::string_view::npos, best_k = 0;
    for (size_t k = 0; k < next.size(); ++k) {
      const std::string& s = vocab_[static_cast<size_t>(special_ids_[k])];
      if (next[k] != std::string_view::npos && next[k] < pos) next[k] = text.find(s, pos);
      if (next[k] == std::string_view::npos) continue;
      const size_t len = s.size(), best_len = vocab_[static_cast<size_t>(special_ids_[best_k])].size();
      if (next[k] < best || (next[k] == best && len > best_len)) best = next[k], best_k = k;
    }
    if (best == std::string_view::npos) break;
    encode_ordinary(text.substr(pos, best - pos), out);
    out.push_back(special_ids_[best_k]);
    pos = best + vocab_[static_cast<size_t>(special_ids_[best_k])].size();
  }
  if (pos < text.size()) encode_ordinary(text.substr(pos), out);
  return out;
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (const int32_t id : ids) {
    const std::string& token = id_to_token(id);
    if (special_[static_cast<size_t>(id)]) {
      if (!skip_special_tokens) out += token;
      continue;
    }
    // A token not spelled in byte_to_unicode() characters (possible in a loaded vocabulary) gives its own text,
    // as Hugging Face's ByteLevel decoder does.
    const size_t mark = out.size();
    if (!unicode_text_to_bytes(token, out)) {
      out.resize(mark);
      out += token;
    }
  }
  return out;
}

}  // namespace ds::data
