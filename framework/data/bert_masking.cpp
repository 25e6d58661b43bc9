#include <ds/data/bert_masking.h>

#include <algorithm>

#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>

namespace ds::data {

namespace {
constexpr const char* kComponent = "bert_masking";

void check_probability(double p, const char* what) {
  DS_CHECK(p >= 0.0 && p <= 1.0, kComponent, "{} = {} is not a probability in [0, 1]", what, p);
}
}  // namespace

void mask_tokens(std::span<int64_t> ids, std::span<int64_t> labels, std::span<const int64_t> special_ids,
                 int64_t mask_id, int64_t vocab_size, RandomStream& rng, const MlmOptions& options) {
  DS_CHECK(ids.size() == labels.size(), kComponent, "mask_tokens: {} ids but {} labels", ids.size(), labels.size());
  DS_CHECK(vocab_size >= 1, kComponent, "mask_tokens: vocab_size {} must be positive", vocab_size);
  const auto mlm_p = static_cast<float>(options.mlm_probability);
  const auto mask_p = static_cast<float>(options.mask_fraction);
  const auto random_p = static_cast<float>(options.mask_fraction + options.random_fraction);
  for (size_t i = 0; i < ids.size(); ++i) {
    labels[i] = kIgnoreIndex;
    if (std::find(special_ids.begin(), special_ids.end(), ids[i]) != special_ids.end()) continue;
    if (!(rng.uniform() < mlm_p)) continue;
    labels[i] = ids[i];
    const float kind = rng.uniform();
    if (kind < mask_p) {
      ids[i] = mask_id;
    } else if (kind < random_p) {
      ids[i] = rng.below(vocab_size);
    }
  }
}

void write_sentence_pair(std::span<const int32_t> a, std::span<const int32_t> b, const BertSpecialTokens& tokens,
                         std::span<int64_t> input_ids, std::span<int64_t> token_type_ids,
                         std::span<int64_t> attention_mask) {
  const size_t t = input_ids.size();
  DS_CHECK(t >= 3 && token_type_ids.size() == t && attention_mask.size() == t, kComponent,
           "write_sentence_pair: lengths {}, {}, {} must be equal and at least 3 ([CLS] [SEP] [SEP])", t,
           token_type_ids.size(), attention_mask.size());
  size_t na = a.size(), nb = b.size();
  while (na + nb > t - 3) {
    if (na > nb) {
      --na;
    } else {
      --nb;
    }
  }
  size_t p = 0;
  const auto put = [&](int64_t id, int64_t type) {
    input_ids[p] = id;
    token_type_ids[p] = type;
    attention_mask[p] = 1;
    ++p;
  };
  put(tokens.cls, 0);
  for (size_t i = 0; i < na; ++i) put(a[i], 0);
  put(tokens.sep, 0);
  for (size_t i = 0; i < nb; ++i) put(b[i], 1);
  put(tokens.sep, 1);
  for (; p < t; ++p) {
    input_ids[p] = tokens.pad;
    token_type_ids[p] = 0;
    attention_mask[p] = 0;
  }
}

BertPretrainingDataset::BertPretrainingDataset(const std::vector<BertDocument>& documents, BertSpecialTokens tokens,
                                               BertPretrainingOptions options)
    : tokens_(tokens), options_(options) {
  const int64_t v = tokens.vocab_size;
  DS_CHECK(v >= 1, kComponent, "vocab_size {} must be positive", v);
  for (const auto& [name, id] : {std::pair{"cls", tokens.cls}, std::pair{"sep", tokens.sep},
                                 std::pair{"mask", tokens.mask}, std::pair{"pad", tokens.pad}}) {
    DS_CHECK(id >= 0 && id < v, kComponent, "the {} id {} is not in [0, vocab_size {})", name, id, v);
  }
  DS_CHECK(options.max_length >= 3, kComponent, "max_length {} cannot hold [CLS] [SEP] [SEP]", options.max_length);
  DS_CHECK(options.dupe_factor >= 1, kComponent, "dupe_factor {} must be at least 1", options.dupe_factor);
  check_probability(options.next_sentence_probability, "next_sentence_probability");
  check_probability(options.mlm.mlm_probability, "mlm_probability");
  check_probability(options.mlm.mask_fraction, "mask_fraction");
  check_probability(options.mlm.random_fraction, "random_fraction");
  check_probability(options.mlm.mask_fraction + options.mlm.random_fraction, "mask_fraction + random_fraction");

  document_start_.push_back(0);
  sentence_start_.push_back(0);
  for (size_t d = 0; d < documents.size(); ++d) {
    for (size_t s = 0; s < documents[d].size(); ++s) {
      for (const int32_t id : documents[d][s]) {
        DS_CHECK(id >= 0 && id < v, kComponent, "document {} sentence {}: id {} is not in [0, vocab_size {})", d, s,
                 id, v);
      }
      if (s + 1 < documents[d].size()) pair_sentences_.push_back(static_cast<int64_t>(sentence_start_.size()) - 1);
      ids_.insert(ids_.end(), documents[d][s].begin(), documents[d][s].end());
      sentence_start_.push_back(static_cast<int64_t>(ids_.size()));
    }
    document_start_.push_back(static_cast<int64_t>(sentence_start_.size()) - 1);
    if (!documents[d].empty()) nonempty_documents_.push_back(static_cast<int64_t>(d));
  }
  const int64_t sentences = static_cast<int64_t>(sentence_start_.size()) - 1;
  DS_CHECK(sentences >= 2 && !pair_sentences_.empty(), kComponent,
           "{} documents with {} sentences: NSP needs a document with at least two sentences", documents.size(),
           sentences);
}

int64_t BertPretrainingDataset::size() const {
  return static_cast<int64_t>(pair_sentences_.size()) * options_.dupe_factor;
}

SampleSpec BertPretrainingDataset::spec() const {
  return {{3, options_.max_length}, kI64, {options_.max_length + 1}, kI64};
}

std::span<const int32_t> BertPretrainingDataset::sentence(int64_t s) const {
  const auto begin = static_cast<size_t>(sentence_start_[static_cast<size_t>(s)]);
  const auto end = static_cast<size_t>(sentence_start_[static_cast<size_t>(s) + 1]);
  return std::span<const int32_t>(ids_).subspan(begin, end - begin);
}

int64_t BertPretrainingDataset::document_of(int64_t s) const {
  // The last document starting at or before s (empty documents start where the next one does).
  return std::upper_bound(document_start_.begin(), document_start_.end(), s) - document_start_.begin() - 1;
}

BertPretrainingDataset::PairChoice BertPretrainingDataset::choose_pair(int64_t index, RandomStream& rng) const {
  const auto pairs = static_cast<int64_t>(pair_sentences_.size());
  PairChoice c;
  c.a = pair_sentences_[static_cast<size_t>(index % pairs)];
  c.random_next = !(rng.uniform() < static_cast<float>(options_.next_sentence_probability));
  if (!c.random_next) {
    c.b = c.a + 1;
    return c;
  }
  const auto docs = static_cast<int64_t>(nonempty_documents_.size());
  if (docs >= 2) {
    // Another document, uniformly: draw among docs - 1 and step over a's own (which is non-empty).
    const int64_t own = std::lower_bound(nonempty_documents_.begin(), nonempty_documents_.end(), document_of(c.a)) -
                        nonempty_documents_.begin();
    int64_t k = rng.below(docs - 1);
    if (k >= own) ++k;
    const int64_t d = nonempty_documents_[static_cast<size_t>(k)];
    const int64_t first = document_start_[static_cast<size_t>(d)];
    c.b = first + rng.below(document_start_[static_cast<size_t>(d) + 1] - first);
  } else {
    const int64_t sentences = static_cast<int64_t>(sentence_start_.size()) - 1;
    c.b = rng.below(sentences - 1);  // any sentence but the true successor
    if (c.b >= c.a + 1) ++c.b;
  }
  return c;
}

Example BertPretrainingDataset::get(int64_t index) const {
  const SampleSpec s = spec();
  Example e{empty(s.input_shape, {.dtype = kI64}), empty(s.target_shape, {.dtype = kI64})};
  read_into(index, s, e.input.data(), e.target.data());
  return e;
}

void BertPretrainingDataset::read_into(int64_t index, const SampleSpec&, void* input, void* target) const {
  check_index(index, size(), kComponent);
  const auto t = static_cast<size_t>(options_.max_length);
  const std::span<int64_t> in(static_cast<int64_t*>(input), 3 * t);
  const std::span<int64_t> out(static_cast<int64_t*>(target), t + 1);
  RandomStream rng = RandomStream::for_sample(options_.seed, 0, index);
  const PairChoice c = choose_pair(index, rng);
  write_sentence_pair(sentence(c.a), sentence(c.b), tokens_, in.subspan(0, t), in.subspan(t, t), in.subspan(2 * t, t));
  const int64_t special[] = {tokens_.cls, tokens_.sep, tokens_.pad};
  mask_tokens(in.subspan(0, t), out.subspan(0, t), special, tokens_.mask, tokens_.vocab_size, rng, options_.mlm);
  out[t] = c.random_next ? 1 : 0;
}

BertBatch split_bert_batch(const Batch& batch) {
  const Tensor& x = batch.input;
  const Tensor& y = batch.target;
  DS_CHECK(x.defined() && y.defined(), kComponent, "split_bert_batch: the batch has no input or target");
  DS_CHECK(x.dim() == 3 && x.size(1) == 3 && y.dim() == 2 &&
               y.size(0) == x.size(0) && y.size(1) == x.size(2) + 1 && x.dtype() == kI64 && y.dtype() == kI64,
           kComponent, "split_bert_batch: expected input (B, 3, T) and target (B, T + 1) i64, got {} {} and {} {}",
           x.sizes(), dtype_name(x.dtype()), y.sizes(), dtype_name(y.dtype()));
  const int64_t t = x.size(2);
  return {x.select(1, 0), x.select(1, 1), x.select(1, 2), y.narrow(1, 0, t), y.select(1, t)};
}

}  // namespace ds::data
